//! Notifications, written in the same transaction as the change they report:
//! the in-app feed of each account, and outbox rows for every webhook that
//! wants the event. A rolled-back transaction notifies nobody; a committed one
//! is delivered by the worker even if the process dies right after.

use crate::error::ApiError;
use crate::store::outbox as store;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::{PgConnection, QueryResult};
use serde_json::Value;
use uuid::Uuid;
use whereabouts_core::Decision;
use whereabouts_core::reconcile::DiscrepancyKind;

/// Kinds of in-app notification.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[schema(as = NotificationKind)]
pub enum Kind {
    /// A filing awaits your decision.
    ApprovalRequested,
    /// Your filing was approved or rejected.
    FilingDecided,
    /// Your extension was approved or rejected.
    ExtensionDecided,
    /// Your return report is due.
    ReturnReportDue,
    /// Your return is overdue.
    ReturnOverdue,
    /// A reconciliation found a discrepancy about you: explain it.
    DiscrepancyOpened,
}

impl Kind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ApprovalRequested => "approval_requested",
            Kind::FilingDecided => "filing_decided",
            Kind::ExtensionDecided => "extension_decided",
            Kind::ReturnReportDue => "return_report_due",
            Kind::ReturnOverdue => "return_overdue",
            Kind::DiscrepancyOpened => "discrepancy_opened",
        }
    }
}

/// What a notification carries, shaped by its kind.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum NotificationData {
    /// `approval_requested`: the step that awaits the reader's decision.
    #[schema(title = "ApprovalRequestedData")]
    ApprovalRequested {
        /// The filing.
        filing_id: Uuid,
        /// 0 for the filing, n for its n-th extension.
        round: i32,
        /// The step, from 1.
        step: i32,
    },
    /// `filing_decided` and `extension_decided`: how the reader's filing or
    /// extension was decided.
    #[schema(title = "DecisionData")]
    Decided {
        /// The filing.
        filing_id: Uuid,
        /// The decision.
        decision: Decision,
        /// 0 for the filing, n for its n-th extension.
        round: i32,
    },
    /// `return_report_due` and `return_overdue`: the trip that should be
    /// reported back.
    #[schema(title = "ReturnDueData")]
    ReturnDue {
        /// The filing.
        filing_id: Uuid,
        /// The planned return day.
        return_on: NaiveDate,
    },
    /// `discrepancy_opened`: what a reconciliation found about the reader,
    /// to explain.
    #[schema(title = "DiscrepancyOpenedData")]
    DiscrepancyOpened {
        /// The discrepancy.
        discrepancy_id: Uuid,
        /// What kind of discrepancy.
        kind: DiscrepancyKind,
        /// Its first day.
        from: NaiveDate,
        /// Its last day.
        to: NaiveDate,
    },
}

/// The accounts whose approvals `accounts` have delegated to, right now.
pub fn active_delegates(
    conn: &mut PgConnection,
    accounts: &[Uuid],
    now: DateTime<Utc>,
) -> QueryResult<Vec<Uuid>> {
    store::active_delegates(conn, accounts, now)
}

/// Adds a notification to the feed of each account. With a dedupe key, an
/// account is notified once per key however often this runs.
pub fn notify(
    conn: &mut PgConnection,
    accounts: &[Uuid],
    kind: Kind,
    filing: Option<Uuid>,
    data: &NotificationData,
    dedupe: Option<&str>,
) -> Result<usize, ApiError> {
    let data = serde_json::to_value(data).map_err(|error| {
        tracing::error!(%error, "a notification's data does not serialise");
        ApiError::Internal
    })?;
    let mut written = 0;
    let mut seen = Vec::new();
    for account in accounts {
        if seen.contains(account) {
            continue;
        }
        seen.push(*account);
        written += store::add_notification(
            conn,
            *account,
            kind.as_str(),
            filing,
            &data,
            dedupe.map(|d| format!("{d}:{account}")),
        )?;
    }
    Ok(written)
}

/// One notification of many, each to its own account with its own details.
pub struct Note {
    /// Whose feed.
    pub account: Uuid,
    /// Details.
    pub data: NotificationData,
    /// Notified once per key however often this runs.
    pub dedupe: String,
}

/// Adds one notification of `kind` per note, in batches (a reconciliation
/// may notify thousands of people at once).
pub fn notify_each(conn: &mut PgConnection, kind: Kind, notes: &[Note]) -> Result<usize, ApiError> {
    let mut written = 0;
    for chunk in notes.chunks(2_000) {
        let data = chunk
            .iter()
            .map(|n| serde_json::to_value(&n.data))
            .collect::<Result<Vec<Value>, _>>()
            .map_err(|error| {
                tracing::error!(%error, "a notification's data does not serialise");
                ApiError::Internal
            })?;
        let batch: Vec<(Uuid, &Value, &str)> = chunk
            .iter()
            .zip(&data)
            .map(|(n, data)| (n.account, data, n.dedupe.as_str()))
            .collect();
        written += store::add_notifications(conn, kind.as_str(), &batch)?;
    }
    Ok(written)
}

/// Queues an event about a filing for every webhook that wants it: those over
/// the whole tree and those whose subtree holds the filing's node.
pub fn publish(
    conn: &mut PgConnection,
    filing: Uuid,
    event: &str,
    payload: &Value,
) -> Result<usize, ApiError> {
    let targets = store::webhooks_for_filing(conn, filing)?;
    let mut queued = 0;
    for (webhook, events) in targets {
        if events.is_empty() || events.iter().any(|e| e == event) {
            queued += store::queue_event(conn, webhook, event, payload)?;
        }
    }
    Ok(queued)
}
