//! The derived flags of a filing (late, overdue, departed before approval) as
//! SQL over the alias `f` of `filings`, for the ledger's filters and counts
//! and the campaign reports. They are core's [`flags::derive`] written for the
//! database; `api/tests/flags_sql.rs` proves the two agree on generated
//! filings.
//!
//! [`flags::derive`]: whereabouts_core::flags::derive

use crate::config::Config;
use chrono::{
    DateTime, Duration, FixedOffset, LocalResult, NaiveDate, NaiveTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use whereabouts_core::assessment::start_of_day;

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
    pub fn at(zone: Tz, now: DateTime<Utc>, grace_hours: i64) -> Self {
        // The zone name and the instant come from configuration, never from a
        // request; the name holds only letters, digits, '/', '_', '-', '+'.
        let tz: String = zone
            .name()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'))
            .collect();
        let now = now.to_rfc3339();
        let starts = day_start("f.depart_on", zone, &tz);
        let ends = day_start("(f.return_on + 1)", zone, &tz);
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
/// zone `tz` (its checked name), as core's `start_of_day` finds it: what
/// PostgreSQL reads `date::timestamp AT TIME ZONE tz` as, but on the days
/// where that reading differs from the core's, which are written out.
fn day_start(date: &str, tz: Tz, name: &str) -> String {
    let midnight = format!("({date}::timestamp AT TIME ZONE '{name}')");
    let exceptions = exceptions(tz);
    if exceptions.is_empty() {
        return midnight;
    }
    let cases: String = exceptions
        .iter()
        .map(|(day, start)| {
            format!(
                " WHEN DATE '{day}' THEN TIMESTAMPTZ '{}'",
                start.to_utc().to_rfc3339()
            )
        })
        .collect();
    format!("(CASE {date}{cases} ELSE {midnight} END)")
}

/// Days with the first instant the core finds for them.
type Exceptions = Arc<Vec<(NaiveDate, DateTime<FixedOffset>)>>;

/// The days of 1900 to 2100 (the dates a request may carry) on which
/// PostgreSQL's reading of local midnight in `tz` is not the day's first
/// instant as the core finds it, with that instant. PostgreSQL reads a
/// midnight that comes twice (clocks set back over it) as the later one, and
/// a midnight skipped by a clock change with the offset before the change.
/// Found once per zone and kept: most zones have a few such days or none
/// (Asia/Shanghai, the default, has none), so the ledger's scans pay for no
/// correction on other days.
fn exceptions(tz: Tz) -> Exceptions {
    static KEPT: OnceLock<Mutex<HashMap<&'static str, Exceptions>>> = OnceLock::new();
    let kept = KEPT.get_or_init(Mutex::default);
    let mut kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
    kept.entry(tz.name())
        .or_insert_with(|| Arc::new(find_exceptions(tz)))
        .clone()
}

fn find_exceptions(tz: Tz) -> Vec<(NaiveDate, DateTime<FixedOffset>)> {
    let (Some(first), Some(last)) = (
        NaiveDate::from_ymd_opt(1900, 1, 1),
        NaiveDate::from_ymd_opt(2100, 12, 31),
    ) else {
        return Vec::new();
    };
    first
        .iter_days()
        .take_while(|day| *day <= last)
        .filter_map(|day| {
            let core = start_of_day(tz, day);
            let midnight = day.and_time(NaiveTime::MIN);
            let postgres = match tz.from_local_datetime(&midnight) {
                LocalResult::Single(t) => t.fixed_offset(),
                LocalResult::Ambiguous(_, later) => later.fixed_offset(),
                LocalResult::None => {
                    // The offset before the change: a day earlier.
                    let before = tz
                        .from_local_datetime(&(midnight - Duration::days(1)))
                        .earliest()?
                        .offset()
                        .fix();
                    (midnight - before).and_utc().fixed_offset()
                }
            };
            (postgres != core).then_some((day, core))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_days_postgresql_reads_otherwise_are_written_out() {
        let havana = exceptions(chrono_tz::America::Havana);
        let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let start = havana.iter().find(|(d, _)| *d == day).unwrap().1;
        assert_eq!(start.to_utc().to_rfc3339(), "2026-11-01T04:00:00+00:00");
        // Spring forward at midnight: PostgreSQL's reading is the core's.
        assert!(!havana.iter().any(|(d, _)| d.to_string() == "2026-03-08"));
        // Shanghai's clock changes were never at midnight: the default zone's
        // flags are PostgreSQL's plain reading, with no correction to pay for.
        let shanghai = exceptions(chrono_tz::Asia::Shanghai);
        assert!(shanghai.is_empty(), "{shanghai:?}");
        let sql = FlagSql::at(chrono_tz::Asia::Shanghai, Utc::now(), 0).late;
        assert!(!sql.contains("CASE"), "{sql}");
    }
}
