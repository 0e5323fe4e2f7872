//! The derived flags of a filing (late, overdue, departed before approval) as
//! SQL over the alias `f` of `filings`, for the ledger's filters and counts
//! and the campaign reports. They are core's [`flags::derive`] written for the
//! database; `api/tests/flags_sql.rs` proves the two agree on generated
//! filings.
//!
//! [`flags::derive`]: whereabouts_core::flags::derive

use crate::config::Config;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// The three flags as SQL boolean expressions over the alias `f` of `filings`.
#[derive(Debug, Clone)]
pub struct FlagSql {
    /// Filed after its deadline.
    pub late: String,
    /// Still away past the return with grace.
    pub overdue: String,
    /// Left before approval.
    pub departed_before_approval: String,
}

impl FlagSql {
    /// The flags at the server's now, in its jurisdiction's time zone.
    pub fn new(config: &Config) -> Self {
        Self::at(config.time_zone, config.now(), config.overdue_grace_hours)
    }

    /// The flags at `now` in `tz`, with `grace_hours` after the return day
    /// before a trip is overdue.
    pub fn at(tz: Tz, now: DateTime<Utc>, grace_hours: i64) -> Self {
        // The zone name and the instant come from configuration, never from a
        // request; the name holds only letters, digits, '/', '_', '-', '+'.
        let tz: String = tz
            .name()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'))
            .collect();
        let now = now.to_rfc3339();
        let starts = day_start("f.depart_on", &tz);
        let ends = day_start("(f.return_on + 1)", &tz);
        Self {
            late: format!(
                "(f.submitted_at IS NOT NULL AND ((f.submit_by IS NOT NULL AND f.submitted_at > f.submit_by) OR f.submitted_at >= {starts}))"
            ),
            overdue: format!(
                "(f.status = 'away' AND TIMESTAMPTZ '{now}' > {ends} + make_interval(hours => {grace_hours}))"
            ),
            departed_before_approval: format!(
                "(f.requirement IS NOT DISTINCT FROM 'approval' AND ((f.approved_at IS NOT NULL AND f.approved_at > {starts}) OR (f.approved_at IS NULL AND f.status = 'pending' AND TIMESTAMPTZ '{now}' >= {starts})))"
            ),
        }
    }
}

/// The first instant of the local day `date` (an SQL date expression) in the
/// zone `tz`, as core's `start_of_day` finds it. PostgreSQL reads a midnight
/// that happens twice (clocks set back over it) as the later one, so the
/// instant an hour after the previous day's 23:00 is taken when it is earlier
/// and still on that day; a midnight skipped by a clock change is read with
/// the offset before the change, which is the first instant of the day.
fn day_start(date: &str, tz: &str) -> String {
    let midnight = format!("({date}::timestamp AT TIME ZONE '{tz}')");
    let after_eleven = format!(
        "((({date})::timestamp - INTERVAL '1 hour') AT TIME ZONE '{tz}' + INTERVAL '1 hour')"
    );
    format!(
        "(CASE WHEN ({after_eleven} AT TIME ZONE '{tz}')::date = ({date}) \
         THEN LEAST({midnight}, {after_eleven}) ELSE {midnight} END)"
    )
}
