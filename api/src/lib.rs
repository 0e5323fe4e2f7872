//! The Whereabouts server: actix-web over PostgreSQL (diesel), answering the
//! public contract in `API.md` and its OpenAPI document.

pub mod access;
pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
pub mod csv_safe;
pub mod db;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod input;
pub mod mfa;
pub mod notify;
pub mod openapi;
pub mod page;
pub mod policy;
pub mod routes;
pub mod schema;
pub mod seal;
pub mod sessions;
pub mod store;
pub mod stored;
#[cfg(feature = "testing")]
pub mod testing;
pub mod throttle;
pub mod tx;
pub mod upload;
pub mod webhook_target;
pub mod worker;
