//! The data layer: all the SQL, one function or value per question it
//! answers. Route files call it; it never calls a route.

pub mod accounts;
pub mod approvals;
pub mod calendar;
pub mod context;
pub mod discrepancies;
pub mod documents;
pub mod enums;
pub mod evidence;
pub mod filings;
pub mod findings;
pub mod flags;
pub mod inspections;
pub mod ledger;
pub mod notifications;
pub mod policies;
pub mod roster;
pub mod sessions;
pub mod special_periods;
pub mod transitions;
pub mod units;

/// The part of the tree a list is drawn from, as the policy scopes it.
#[derive(Debug)]
pub enum Within {
    /// The subtree of one node.
    Subtree(uuid::Uuid),
    /// The subtrees of these nodes.
    Roots(Vec<uuid::Uuid>),
    /// The whole tree.
    All,
}
