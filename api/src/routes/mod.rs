//! One module per resource: its handlers, request and response shapes, and queries.

pub mod health;
pub mod units;
