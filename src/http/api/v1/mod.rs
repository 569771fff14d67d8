//! Version 1 of the JSON API.

pub mod assets;
pub mod changes;
pub mod lessons;
pub mod uploads;
