//! The data layer: all the SQL, one function or value per question it
//! answers. Route files call it; it never calls a route.

pub mod access_log;
pub mod accounts;
pub mod approvals;
pub mod audit;
pub mod calendar;
pub mod context;
pub mod discrepancies;
pub mod documents;
pub mod enums;
pub mod evidence;
pub mod filings;
pub mod findings;
pub mod flags;
pub mod idempotency;
pub mod inspections;
pub mod ledger;
pub mod mfa;
pub mod notifications;
pub mod outbox;
pub mod policies;
pub mod roster;
pub mod sessions;
pub mod special_periods;
pub mod targets;
pub mod throttle;
pub mod transitions;
pub mod units;

use diesel::dsl::sql;
use diesel::expression::BoxableExpression;
use diesel::pg::Pg;
use diesel::sql_types::{Array, Bool, Uuid as SqlUuid};

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

impl Within {
    /// The condition that a node path (the SQL expression `path`, such as
    /// `units.path`) lies in this part of the tree; none for the whole tree.
    pub fn condition<QS>(
        &self,
        path: &str,
    ) -> Option<Box<dyn BoxableExpression<QS, Pg, SqlType = Bool>>> {
        let (operator, nodes) = match self {
            Within::Subtree(unit) => ("@>", vec![*unit]),
            Within::Roots(roots) => ("&&", roots.clone()),
            Within::All => return None,
        };
        Some(Box::new(
            sql::<Bool>(&format!("{path} {operator} ")).bind::<Array<SqlUuid>, _>(nodes),
        ))
    }
}

/// An `ILIKE` pattern that finds `q` anywhere, its wildcards taken literally.
pub fn like_pattern(q: &str) -> String {
    format!(
        "%{}%",
        q.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}
