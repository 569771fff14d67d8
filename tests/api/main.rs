//! The integration suite: the real router on a real port, a real database file or server, and a
//! real S3 endpoint. See `common.rs` for how each run picks SQLite/PostgreSQL and embedded/external S3.

mod common;
mod contract;
mod fixtures;
mod hardening;
mod jobs;
mod openapi;

mod authz;
mod authz_edges;
mod boundary;
mod changes;
mod downloads;
mod extraction_budget;
mod feed;
mod feed_model;
mod learning;
mod lessons;
mod library;
mod limits;
mod media;
mod media_ops;
mod media_video;
mod oai;
mod orgs;
mod outages;
mod pages;
mod postgres;
mod privacy;
mod reports;
mod rules;
mod schema;
mod search;
mod search_index;
mod search_relevance;
mod security;
mod subtitles;
mod synonyms;
mod transcripts;
mod tus;
mod uploads;
mod webhooks;
mod workflow;
mod xapi;
mod xapi_documents;
mod xapi_signed;
