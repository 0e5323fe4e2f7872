//! One module per resource: its handlers and request shapes. The SQL is in `store`.

pub mod access_log;
pub mod accounts;
pub mod approvals;
pub mod assessments;
pub mod audit;
pub mod auth;
pub mod calendar;
pub mod discrepancies;
pub mod documents;
pub mod evidence;
pub mod filings;
pub mod findings;
pub mod health;
pub mod inspections;
pub mod ledger;
pub mod me;
pub mod mfa;
pub mod notifications;
pub mod policies;
pub mod roster;
pub mod sessions;
pub mod special_periods;
pub mod units;
