//! Reconciliation: evidence of where people were (itineraries, border
//! crossings, attendance) against their filings, day by day, as API.md's
//! "Evidence and reconciliation" defines it. Pure: the server loads the
//! evidence and filings of a subtree and window and stores what this returns.

use crate::calendar::Calendar;
use crate::lifecycle::FilingStatus;
use crate::regions::{self, DestinationKind};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// How many days after a reported trip's return being outside counts as
/// returning late rather than leaving unreported.
pub const RETURN_GRACE_DAYS: i64 = 14;

/// Where a record comes from.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceSource {
    /// Where the person was on a day (travel bookings, telecom roaming).
    Itinerary,
    /// An exit or entry at the border.
    BorderCrossing,
    /// The unit's attendance register.
    Attendance,
}

/// Which way a border crossing went.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Leaving the mainland.
    Exit,
    /// Coming back.
    Entry,
}

/// An attendance mark.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttendanceStatus {
    /// At work.
    Present,
    /// Out of the office.
    Out,
    /// Absent.
    Absent,
    /// On approved leave.
    Leave,
}

/// One evidence record of one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The stored record.
    pub id: i64,
    /// Its kind.
    pub source: EvidenceSource,
    /// The day.
    pub date: NaiveDate,
    /// Where (itinerary), or the country of a border crossing.
    pub location_code: Option<String>,
    /// Border crossings: exit or entry.
    pub direction: Option<Direction>,
    /// Attendance: the mark.
    pub status: Option<AttendanceStatus>,
}

/// One filing of the person, as reconciliation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TripFiling {
    /// The filing.
    pub id: Uuid,
    /// Its status.
    pub status: FilingStatus,
    /// Planned departure.
    pub depart_on: NaiveDate,
    /// Planned return, moved by any approved extension.
    pub return_on: NaiveDate,
    /// Destination codes.
    pub destinations: Vec<String>,
    /// When it was approved (approval filings that reached `approved`).
    pub approved_at: Option<DateTime<Utc>>,
    /// Whether it needed approval (false for report-only filings).
    pub needs_approval: bool,
}

impl TripFiling {
    fn covers(&self, day: NaiveDate) -> bool {
        self.depart_on <= day && day <= self.return_on && (self.reported() || self.unapproved())
    }

    fn reported(&self) -> bool {
        matches!(
            self.status,
            FilingStatus::Recorded
                | FilingStatus::Approved
                | FilingStatus::Away
                | FilingStatus::Returned
        )
    }

    fn unapproved(&self) -> bool {
        matches!(self.status, FilingStatus::Pending | FilingStatus::Rejected)
    }

    /// Reported, and (when it needed approval) approved before `day` ended.
    fn approved_by(&self, day_end: DateTime<Utc>) -> bool {
        self.reported() && (!self.needs_approval || self.approved_at.is_none_or(|at| at < day_end))
    }
}

/// The five kinds, in the order they are tried.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscrepancyKind {
    /// Outside with no filing and no recent reported trip.
    UnreportedDeparture,
    /// Outside with no filing, within 14 days after a reported trip ended.
    ReturnedLate,
    /// Outside on a trip not yet (or never) approved that day.
    DepartedBeforeApproval,
    /// Outside on a reported trip, somewhere it does not name.
    DestinationDiffers,
    /// Out or absent on a working day with no reported trip.
    AbsenceWithoutFiling,
}

impl DiscrepancyKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DiscrepancyKind::UnreportedDeparture => "unreported_departure",
            DiscrepancyKind::ReturnedLate => "returned_late",
            DiscrepancyKind::DepartedBeforeApproval => "departed_before_approval",
            DiscrepancyKind::DestinationDiffers => "destination_differs",
            DiscrepancyKind::AbsenceWithoutFiling => "absence_without_filing",
        }
    }
}

/// A run of consecutive days of one person and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its kind.
    pub kind: DiscrepancyKind,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// The filing concerned (the covering or the last reported one), if any.
    pub filing_id: Option<Uuid>,
    /// The evidence behind it, by record id, ascending.
    pub evidence: Vec<i64>,
}

/// What the days of one person and window are checked with.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The home jurisdiction's division code.
    pub home_code: &'a str,
    /// Working days and holidays.
    pub calendar: &'a Calendar,
    /// The first day checked.
    pub from: NaiveDate,
    /// The last day checked.
    pub to: NaiveDate,
    /// The end of a local day, as an instant (for "approved after that day").
    pub day_end: &'a dyn Fn(NaiveDate) -> DateTime<Utc>,
}

/// Whether a location code lies outside the home jurisdiction. A mainland code
/// (six digits, including county-level codes the table does not list) is
/// outside when its province differs; Hong Kong, Macau, Taiwan and countries
/// are outside.
pub fn is_outside(code: &str, home_code: &str) -> bool {
    let code = code.trim();
    if is_mainland_code(code) {
        return code.get(..2) != home_code.get(..2);
    }
    true
}

fn is_mainland_code(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// Whether an evidence location is a code reconciliation understands: any
/// code of the destinations table, or a six-digit mainland code of a known
/// province.
pub fn is_known_location(code: &str) -> bool {
    let code = code.trim();
    regions::lookup(code).is_some()
        || (is_mainland_code(code)
            && code
                .get(..2)
                .is_some_and(|p| regions::lookup(&format!("{p}0000")).is_some()))
}

/// Whether an evidence location lies inside a filed destination: the same
/// code; a mainland code inside a filed province (same first two digits) or
/// prefecture (same first four); a country is inside only itself.
pub fn is_within(location: &str, destination: &str) -> bool {
    let (location, destination) = (location.trim(), destination.trim());
    if location == destination {
        return true;
    }
    if !is_mainland_code(location) || !is_mainland_code(destination) {
        return false;
    }
    match regions::lookup(destination).map(|r| r.kind) {
        Some(DestinationKind::Province) => location.get(..2) == destination.get(..2),
        Some(DestinationKind::Prefecture) => location.get(..4) == destination.get(..4),
        _ => false,
    }
}

/// Where the evidence puts a person on one day.
#[derive(Debug, Default)]
struct Day {
    /// Locations outside the jurisdiction, with the records saying so.
    outside: Vec<(String, i64)>,
    /// Attendance out or absent.
    absent: Vec<i64>,
}

/// Reconciles one person's evidence against their filings over the window.
/// `evidence` may include border crossings before the window (an abroad
/// stretch that began earlier); `filings` should include any that end up to
/// 14 days before the window.
pub fn reconcile_person(
    ctx: Context<'_>,
    evidence: &[Evidence],
    filings: &[TripFiling],
) -> Vec<Found> {
    let mut days: BTreeMap<NaiveDate, Day> = BTreeMap::new();
    let in_window = |d: NaiveDate| ctx.from <= d && d <= ctx.to;
    for record in evidence {
        match record.source {
            EvidenceSource::Itinerary => {
                if let Some(code) = &record.location_code
                    && in_window(record.date)
                    && is_outside(code, ctx.home_code)
                {
                    days.entry(record.date)
                        .or_default()
                        .outside
                        .push((code.trim().to_owned(), record.id));
                }
            }
            EvidenceSource::Attendance => {
                if matches!(
                    record.status,
                    Some(AttendanceStatus::Out | AttendanceStatus::Absent)
                ) && in_window(record.date)
                {
                    days.entry(record.date).or_default().absent.push(record.id);
                }
            }
            EvidenceSource::BorderCrossing => {}
        }
    }
    // Abroad stretches: from an exit to the day before the next entry (or the
    // window's end when none follows), carrying the exit's country.
    let mut crossings: Vec<&Evidence> = evidence
        .iter()
        .filter(|e| e.source == EvidenceSource::BorderCrossing && e.direction.is_some())
        .collect();
    crossings.sort_by_key(|e| (e.date, e.id));
    for (i, exit) in crossings.iter().enumerate() {
        if exit.direction != Some(Direction::Exit) {
            continue;
        }
        let next_entry = crossings[i + 1..]
            .iter()
            .find(|e| e.direction == Some(Direction::Entry) && e.date >= exit.date);
        let last = next_entry.map_or(ctx.to, |e| e.date - Duration::days(1));
        let country = exit.location_code.clone().unwrap_or_default();
        let mut day = exit.date.max(ctx.from);
        while day <= last.min(ctx.to) {
            let entry = days.entry(day).or_default();
            entry.outside.push((country.trim().to_owned(), exit.id));
            if let Some(back) = next_entry {
                entry.outside.push((country.trim().to_owned(), back.id));
            }
            day += Duration::days(1);
        }
    }

    let mut found: Vec<Found> = Vec::new();
    for (day, seen) in days {
        let Some((kind, filing_id, records)) = judge(ctx, day, &seen, filings) else {
            continue;
        };
        let mut records: Vec<i64> = records;
        records.sort_unstable();
        records.dedup();
        match found.last_mut() {
            Some(last) if last.kind == kind && last.to + Duration::days(1) == day => {
                last.to = day;
                last.filing_id = last.filing_id.or(filing_id);
                let merged: BTreeSet<i64> = last.evidence.iter().copied().chain(records).collect();
                last.evidence = merged.into_iter().collect();
            }
            _ => found.push(Found {
                kind,
                from: day,
                to: day,
                filing_id,
                evidence: records,
            }),
        }
    }
    found
}

/// The one discrepancy of a person-day, if any, with its filing and records.
fn judge(
    ctx: Context<'_>,
    day: NaiveDate,
    seen: &Day,
    filings: &[TripFiling],
) -> Option<(DiscrepancyKind, Option<Uuid>, Vec<i64>)> {
    let covering: Vec<&TripFiling> = filings.iter().filter(|f| f.covers(day)).collect();
    if !seen.outside.is_empty() {
        let records: Vec<i64> = seen.outside.iter().map(|(_, id)| *id).collect();
        if covering.is_empty() {
            let recent = filings
                .iter()
                .filter(|f| {
                    f.reported()
                        && f.return_on < day
                        && f.return_on >= day - Duration::days(RETURN_GRACE_DAYS)
                })
                .max_by_key(|f| f.return_on);
            return Some(match recent {
                None => (DiscrepancyKind::UnreportedDeparture, None, records),
                Some(f) => (DiscrepancyKind::ReturnedLate, Some(f.id), records),
            });
        }
        let end = (ctx.day_end)(day);
        let approved: Vec<&&TripFiling> = covering.iter().filter(|f| f.approved_by(end)).collect();
        if approved.is_empty() {
            return Some((
                DiscrepancyKind::DepartedBeforeApproval,
                covering.first().map(|f| f.id),
                records,
            ));
        }
        let stray: Vec<i64> = seen
            .outside
            .iter()
            .filter(|(code, _)| {
                !approved
                    .iter()
                    .any(|f| f.destinations.iter().any(|d| is_within(code, d)))
            })
            .map(|(_, id)| *id)
            .collect();
        if !stray.is_empty() {
            return Some((
                DiscrepancyKind::DestinationDiffers,
                approved.first().map(|f| f.id),
                stray,
            ));
        }
        return None;
    }
    if !seen.absent.is_empty()
        && ctx.calendar.is_working_day(day)
        && !filings.iter().any(|f| f.covers(day) && f.reported())
    {
        return Some((
            DiscrepancyKind::AbsenceWithoutFiling,
            None,
            seen.absent.clone(),
        ));
    }
    None
}
