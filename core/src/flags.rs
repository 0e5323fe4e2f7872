//! Derived flags of a filing, never typed in: late, overdue and departed
//! before approval. Computed from the filing's dates and timestamps and "now".

use crate::assessment::start_of_day;
use crate::lifecycle::FilingStatus;
use crate::policy::Requirement;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// How long after the planned return an away filing becomes overdue, by default.
pub const DEFAULT_OVERDUE_GRACE_HOURS: i64 = 24;

/// What the flags are computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagFacts {
    /// Current status.
    pub status: FilingStatus,
    /// What the filing required at submission.
    pub requirement: Option<Requirement>,
    /// Planned departure.
    pub depart_on: NaiveDate,
    /// Planned return, moved by approved extensions.
    pub return_on: NaiveDate,
    /// When it was submitted.
    pub submitted_at: Option<DateTime<FixedOffset>>,
    /// The submit-by deadline of the assessment at submission.
    pub submit_by: Option<DateTime<FixedOffset>>,
    /// When the last approval step was decided.
    pub approved_at: Option<DateTime<FixedOffset>>,
    /// Hours after the end of `return_on` before an away filing is overdue.
    pub grace_hours: i64,
}

/// The derived flags.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DerivedFlags {
    /// Submitted after the notice deadline, or after departure.
    pub late: bool,
    /// Still away past the planned return plus grace.
    pub overdue: bool,
    /// The trip began before the approval it needed (or while still pending).
    pub departed_before_approval: bool,
}

/// Computes the flags at `now` in the jurisdiction's time zone.
pub fn derive(facts: &FlagFacts, tz: Tz, now: DateTime<FixedOffset>) -> DerivedFlags {
    let trip_starts = start_of_day(tz, facts.depart_on);
    let late = match facts.submitted_at {
        Some(at) => facts.submit_by.is_some_and(|by| at > by) || at >= trip_starts,
        None => false,
    };
    let trip_ends = start_of_day(tz, facts.return_on.succ_opt().unwrap_or(facts.return_on));
    let overdue =
        facts.status == FilingStatus::Away && now > trip_ends + Duration::hours(facts.grace_hours);
    let needs_approval = facts.requirement == Some(Requirement::Approval);
    let departed_before_approval = needs_approval
        && match facts.approved_at {
            Some(approved) => approved > trip_starts,
            None => facts.status == FilingStatus::Pending && now >= trip_starts,
        };
    DerivedFlags {
        late,
        overdue,
        departed_before_approval,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn facts() -> FlagFacts {
        FlagFacts {
            status: FilingStatus::Approved,
            requirement: Some(Requirement::Approval),
            depart_on: "2027-05-01".parse().unwrap(),
            return_on: "2027-05-05".parse().unwrap(),
            submitted_at: Some(t("2027-04-20T10:00:00+08:00")),
            submit_by: Some(t("2027-04-27T18:00:00+08:00")),
            approved_at: Some(t("2027-04-21T10:00:00+08:00")),
            grace_hours: 24,
        }
    }

    const TZ: Tz = chrono_tz::Asia::Shanghai;

    #[test]
    fn an_early_approved_filing_has_no_flags() {
        assert_eq!(
            derive(&facts(), TZ, t("2027-04-22T00:00:00+08:00")),
            DerivedFlags::default()
        );
    }

    #[test]
    fn late_after_the_deadline_or_after_departure() {
        let mut f = facts();
        f.submitted_at = Some(t("2027-04-28T09:00:00+08:00"));
        assert!(derive(&f, TZ, t("2027-04-29T00:00:00+08:00")).late);
        f.submit_by = None;
        f.submitted_at = Some(t("2027-05-02T09:00:00+08:00"));
        assert!(derive(&f, TZ, t("2027-05-03T00:00:00+08:00")).late);
        f.submitted_at = Some(t("2027-04-30T23:59:00+08:00"));
        assert!(!derive(&f, TZ, t("2027-05-03T00:00:00+08:00")).late);
    }

    #[test]
    fn overdue_only_while_away_past_return_and_grace() {
        let mut f = facts();
        f.status = FilingStatus::Away;
        // The trip ends at 00:00 on 6 May; grace runs to 00:00 on 7 May.
        assert!(!derive(&f, TZ, t("2027-05-07T00:00:00+08:00")).overdue);
        assert!(derive(&f, TZ, t("2027-05-07T00:00:01+08:00")).overdue);
        f.status = FilingStatus::Returned;
        assert!(!derive(&f, TZ, t("2027-05-09T00:00:00+08:00")).overdue);
    }

    #[test]
    fn departed_before_approval_when_approved_after_the_trip_began_or_still_pending() {
        let mut f = facts();
        f.approved_at = Some(t("2027-05-01T08:00:00+08:00"));
        assert!(derive(&f, TZ, t("2027-05-02T00:00:00+08:00")).departed_before_approval);
        f.approved_at = None;
        f.status = FilingStatus::Pending;
        assert!(!derive(&f, TZ, t("2027-04-30T23:00:00+08:00")).departed_before_approval);
        assert!(derive(&f, TZ, t("2027-05-01T00:00:00+08:00")).departed_before_approval);
        f.requirement = Some(Requirement::Report);
        assert!(!derive(&f, TZ, t("2027-05-01T00:00:00+08:00")).departed_before_approval);
    }
}
