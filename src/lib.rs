//! Lectern: a central kitchen for educational media. See `ARCHITECTURE.md` for the map.

pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod http;
pub mod ingest;
pub mod jobs;
pub mod media;
pub mod publish;
pub mod search;
pub mod services;
pub mod startup;
pub mod storage;
pub mod telemetry;

#[cfg(test)]
mod props;
