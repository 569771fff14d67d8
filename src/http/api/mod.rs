//! The JSON API. Handlers are verbs; each module is a noun of the domain.

pub mod v1;
