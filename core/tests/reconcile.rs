//! Reconciliation of one person's evidence against their filings, case by case,
//! as API.md's "Evidence and reconciliation" states the rules. Every story is
//! set in May 2026 with a Beijing (110000) jurisdiction and the shipped
//! calendar: 1–5 May is the May Day holiday, Sat 9 May a make-up working day.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use uuid::Uuid;
use whereabouts_core::reconcile::{
    AttendanceStatus, Context, Direction, DiscrepancyKind, Evidence, EvidenceSource, Found,
    TripFiling, is_known_location, is_outside, is_within, reconcile_person,
};
use whereabouts_core::{Calendar, FilingStatus};

use AttendanceStatus::{Absent, Leave, Out, Present};
use DiscrepancyKind::{
    AbsenceWithoutFiling, DepartedBeforeApproval, DestinationDiffers, ReturnedLate,
    UnreportedDeparture,
};

// ---------------------------------------------------------------------------
// The setting
// ---------------------------------------------------------------------------

const HOME: &str = "110000";

/// No discrepancy at all.
const NOTHING: [Found; 0] = [];

static CALENDAR: LazyLock<Calendar> = LazyLock::new(Calendar::default);

fn apr(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 4, day).unwrap()
}

fn may(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 5, day).unwrap()
}

fn june(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, day).unwrap()
}

/// An instant given as Beijing wall-clock time (UTC+8).
fn beijing(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    date.and_hms_opt(hour, minute, 0)
        .unwrap()
        .and_local_timezone(FixedOffset::east_opt(8 * 3600).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// The local midnight ending `date`, in UTC+8.
fn day_end(date: NaiveDate) -> DateTime<Utc> {
    beijing(date + Duration::days(1), 0, 0)
}

fn context(from: NaiveDate, to: NaiveDate) -> Context<'static> {
    Context {
        home_code: HOME,
        calendar: &CALENDAR,
        from,
        to,
        day_end: &day_end,
    }
}

/// Reconciles over the whole of May 2026.
fn reconcile_may(evidence: &[Evidence], filings: &[TripFiling]) -> Vec<Found> {
    reconcile_person(context(may(1), may(31)), evidence, filings)
}

// ---------------------------------------------------------------------------
// Evidence
// ---------------------------------------------------------------------------

fn itinerary(id: i64, date: NaiveDate, code: &str) -> Evidence {
    Evidence {
        id,
        source: EvidenceSource::Itinerary,
        date,
        location_code: Some(code.to_owned()),
        direction: None,
        status: None,
    }
}

fn exit(id: i64, date: NaiveDate, country: &str) -> Evidence {
    Evidence {
        id,
        source: EvidenceSource::BorderCrossing,
        date,
        location_code: Some(country.to_owned()),
        direction: Some(Direction::Exit),
        status: None,
    }
}

fn entry(id: i64, date: NaiveDate) -> Evidence {
    Evidence {
        id,
        source: EvidenceSource::BorderCrossing,
        date,
        location_code: None,
        direction: Some(Direction::Entry),
        status: None,
    }
}

fn attendance(id: i64, date: NaiveDate, status: AttendanceStatus) -> Evidence {
    Evidence {
        id,
        source: EvidenceSource::Attendance,
        date,
        location_code: None,
        direction: None,
        status: Some(status),
    }
}

// ---------------------------------------------------------------------------
// Filings
// ---------------------------------------------------------------------------

static NEXT_FILING: AtomicU64 = AtomicU64::new(1);

/// A filing as the server passes it. Approved-type statuses (`approved`,
/// `away`, `returned`) were approved at 10:00 three days before departure;
/// `recorded` is report-only; the rest were never approved.
fn filing(
    status: FilingStatus,
    depart_on: NaiveDate,
    return_on: NaiveDate,
    destinations: &[&str],
) -> TripFiling {
    let approved = matches!(
        status,
        FilingStatus::Approved | FilingStatus::Away | FilingStatus::Returned
    );
    TripFiling {
        id: Uuid::from_u128(u128::from(NEXT_FILING.fetch_add(1, Ordering::Relaxed))),
        status,
        depart_on,
        return_on,
        destinations: destinations.iter().map(|d| (*d).to_owned()).collect(),
        approved_at: approved.then(|| beijing(depart_on - Duration::days(3), 10, 0)),
        needs_approval: status != FilingStatus::Recorded,
    }
}

/// The same filing, approved at another instant.
fn approved_at(filing: TripFiling, at: DateTime<Utc>) -> TripFiling {
    TripFiling {
        approved_at: Some(at),
        ..filing
    }
}

fn found(
    kind: DiscrepancyKind,
    from: NaiveDate,
    to: NaiveDate,
    filing: Option<&TripFiling>,
    evidence: &[i64],
) -> Found {
    Found {
        kind,
        from,
        to,
        filing_id: filing.map(|f| f.id),
        evidence: evidence.to_vec(),
    }
}

// ---------------------------------------------------------------------------
// The calendar the stories rely on
// ---------------------------------------------------------------------------

#[test]
fn the_shipped_calendar_has_the_may_day_holiday_and_its_make_up_saturday() {
    for day in 1..=5 {
        assert!(CALENDAR.is_holiday(may(day)), "{} is a holiday", may(day));
        assert!(!CALENDAR.is_working_day(may(day)));
    }
    assert!(CALENDAR.is_working_day(may(6)), "Wed 6 May is worked");
    assert!(
        CALENDAR.is_working_day(may(9)),
        "Sat 9 May is a make-up day"
    );
    assert!(!CALENDAR.is_working_day(may(10)), "Sun 10 May is off");
    assert!(CALENDAR.is_working_day(apr(30)), "Thu 30 April is worked");
}

// ---------------------------------------------------------------------------
// The five kinds
// ---------------------------------------------------------------------------

#[test]
fn outside_with_no_filing_is_an_unreported_departure() {
    let evidence = [itinerary(1, may(6), "310000")];
    assert_eq!(
        reconcile_may(&evidence, &[]),
        [found(UnreportedDeparture, may(6), may(6), None, &[1])]
    );
}

#[test]
fn outside_soon_after_a_reported_trip_ended_is_returned_late() {
    let trip = filing(FilingStatus::Returned, may(6), may(8), &["310000"]);
    let evidence = [
        itinerary(1, may(7), "310000"), // on the trip, where it said
        itinerary(2, may(12), "310000"),
        itinerary(3, may(13), "310000"),
    ];
    assert_eq!(
        reconcile_may(&evidence, std::slice::from_ref(&trip)),
        [found(ReturnedLate, may(12), may(13), Some(&trip), &[2, 3])]
    );
}

#[test]
fn returned_late_names_the_most_recent_reported_trip() {
    let older = filing(FilingStatus::Returned, apr(27), apr(28), &["310000"]);
    let newer = filing(FilingStatus::Recorded, may(6), may(7), &["310000"]);
    let evidence = [itinerary(1, may(11), "320000")];
    assert_eq!(
        reconcile_may(&evidence, &[older, newer.clone()]),
        [found(ReturnedLate, may(11), may(11), Some(&newer), &[1])]
    );
}

#[test]
fn outside_on_a_pending_filing_is_departed_before_approval() {
    let trip = filing(FilingStatus::Pending, may(6), may(8), &["310000"]);
    let evidence = [
        itinerary(1, may(6), "310000"),
        itinerary(2, may(7), "310000"),
    ];
    assert_eq!(
        reconcile_may(&evidence, std::slice::from_ref(&trip)),
        [found(
            DepartedBeforeApproval,
            may(6),
            may(7),
            Some(&trip),
            &[1, 2]
        )]
    );
}

#[test]
fn outside_on_a_rejected_filing_is_departed_before_approval() {
    let trip = filing(FilingStatus::Rejected, may(6), may(8), &["310000"]);
    let evidence = [itinerary(1, may(8), "310000")];
    assert_eq!(
        reconcile_may(&evidence, std::slice::from_ref(&trip)),
        [found(
            DepartedBeforeApproval,
            may(8),
            may(8),
            Some(&trip),
            &[1]
        )]
    );
}

#[test]
fn outside_before_a_late_approval_is_departed_before_approval_for_those_days_only() {
    // Left on Wednesday; the approval came on Thursday morning.
    let trip = approved_at(
        filing(FilingStatus::Away, may(6), may(8), &["310000"]),
        beijing(may(7), 9, 30),
    );
    let evidence = [
        itinerary(1, may(6), "310000"),
        itinerary(2, may(7), "310000"),
        itinerary(3, may(8), "310000"),
    ];
    assert_eq!(
        reconcile_may(&evidence, std::slice::from_ref(&trip)),
        [found(
            DepartedBeforeApproval,
            may(6),
            may(6),
            Some(&trip),
            &[1]
        )]
    );
}

#[test]
fn an_approval_before_the_end_of_the_departure_day_is_in_time() {
    // Approved at 23:59 Beijing time on the day of departure (15:59 UTC).
    let trip = approved_at(
        filing(FilingStatus::Approved, may(6), may(8), &["310000"]),
        beijing(may(6), 23, 59),
    );
    let evidence = [itinerary(1, may(6), "310000")];
    assert_eq!(reconcile_may(&evidence, &[trip]), NOTHING);
}

#[test]
fn an_approval_just_after_the_local_midnight_is_late_for_the_day_before() {
    // 00:01 on 7 May in Beijing is still 6 May in UTC: the day ends at the
    // local midnight, not the UTC one.
    let trip = approved_at(
        filing(FilingStatus::Approved, may(6), may(8), &["310000"]),
        beijing(may(7), 0, 1),
    );
    assert_eq!(trip.approved_at.unwrap().date_naive(), may(6));
    let evidence = [itinerary(1, may(6), "310000")];
    assert_eq!(
        reconcile_may(&evidence, std::slice::from_ref(&trip)),
        [found(
            DepartedBeforeApproval,
            may(6),
            may(6),
            Some(&trip),
            &[1]
        )]
    );
}

#[test]
fn outside_somewhere_the_reported_trip_does_not_name_is_destination_differs() {
    let trip = filing(FilingStatus::Approved, may(6), may(8), &["310000"]);
    let evidence = [
        itinerary(1, may(6), "310000"),
        itinerary(2, may(7), "310000"), // where it said …
        itinerary(3, may(7), "440300"), // … and also in Shenzhen
    ];
    assert_eq!(
        reconcile_may(&evidence, std::slice::from_ref(&trip)),
        [found(DestinationDiffers, may(7), may(7), Some(&trip), &[3])]
    );
}

#[test]
fn a_report_only_trip_somewhere_else_is_destination_differs() {
    let trip = filing(FilingStatus::Recorded, may(6), may(8), &["320000"]);
    let evidence = [itinerary(1, may(8), "330100")];
    assert_eq!(
        reconcile_may(&evidence, std::slice::from_ref(&trip)),
        [found(DestinationDiffers, may(8), may(8), Some(&trip), &[1])]
    );
}

#[test]
fn out_or_absent_on_a_working_day_without_a_trip_is_absence_without_filing() {
    let evidence = [attendance(1, may(6), Absent), attendance(2, may(7), Out)];
    assert_eq!(
        reconcile_may(&evidence, &[]),
        [found(AbsenceWithoutFiling, may(6), may(7), None, &[1, 2])]
    );
}

// ---------------------------------------------------------------------------
// Only the first kind that applies
// ---------------------------------------------------------------------------

#[test]
fn a_late_approval_to_the_wrong_place_is_departed_before_approval_not_destination_differs() {
    let trip = approved_at(
        filing(FilingStatus::Approved, may(6), may(8), &["310000"]),
        beijing(may(7), 9, 0),
    );
    let evidence = [
        itinerary(1, may(6), "440300"), // before approval, and elsewhere
        itinerary(2, may(7), "440300"), // approved by now, still elsewhere
    ];
    assert_eq!(
        reconcile_may(&evidence, std::slice::from_ref(&trip)),
        [
            found(DepartedBeforeApproval, may(6), may(6), Some(&trip), &[1]),
            found(DestinationDiffers, may(7), may(7), Some(&trip), &[2]),
        ]
    );
}

#[test]
fn absent_while_outside_with_no_filing_is_only_an_unreported_departure() {
    let evidence = [
        attendance(1, may(6), Absent),
        itinerary(2, may(6), "310000"),
    ];
    assert_eq!(
        reconcile_may(&evidence, &[]),
        [found(UnreportedDeparture, may(6), may(6), None, &[2])]
    );
}

#[test]
fn absent_while_outside_on_a_pending_trip_is_only_departed_before_approval() {
    let trip = filing(FilingStatus::Pending, may(6), may(6), &["310000"]);
    let evidence = [attendance(1, may(6), Out), itinerary(2, may(6), "310000")];
    let result = reconcile_may(&evidence, std::slice::from_ref(&trip));
    assert_eq!(
        result,
        [found(
            DepartedBeforeApproval,
            may(6),
            may(6),
            Some(&trip),
            &[2]
        )]
    );
}

#[test]
fn absent_while_outside_where_the_trip_said_is_nothing() {
    // Rule 5 needs no evidence putting the person outside; rules 1–4 do not
    // apply to a trip that went where it said.
    let trip = filing(FilingStatus::Away, may(6), may(6), &["310000"]);
    let evidence = [attendance(1, may(6), Out), itinerary(2, may(6), "310000")];
    assert_eq!(reconcile_may(&evidence, &[trip]), NOTHING);
}

// ---------------------------------------------------------------------------
// What is not a discrepancy
// ---------------------------------------------------------------------------

#[test]
fn an_approved_trip_where_it_said_is_nothing() {
    let trip = filing(FilingStatus::Approved, may(6), may(8), &["310000", "JP"]);
    let evidence = [
        itinerary(1, may(6), "310000"),
        itinerary(2, may(7), "JP"),
        itinerary(3, may(8), "310000"),
        attendance(4, may(7), Out),
    ];
    assert_eq!(reconcile_may(&evidence, &[trip]), NOTHING);
}

#[test]
fn away_and_returned_trips_cover_their_days_too() {
    let away = filing(FilingStatus::Away, may(6), may(7), &["310000"]);
    let returned = filing(FilingStatus::Returned, may(11), may(12), &["320000"]);
    let evidence = [
        itinerary(1, may(6), "310000"),
        itinerary(2, may(7), "310000"),
        itinerary(3, may(11), "320000"),
        itinerary(4, may(12), "320000"),
    ];
    assert_eq!(reconcile_may(&evidence, &[away, returned]), NOTHING);
}

#[test]
fn a_report_only_trip_covers_its_days() {
    let trip = filing(FilingStatus::Recorded, may(6), may(8), &["310000"]);
    assert!(!trip.needs_approval);
    assert_eq!(trip.approved_at, None);
    let evidence = [
        itinerary(1, may(6), "310000"),
        attendance(2, may(7), Absent),
        attendance(3, may(8), Out),
    ];
    assert_eq!(reconcile_may(&evidence, &[trip]), NOTHING);
}

#[test]
fn evidence_inside_the_home_jurisdiction_is_nothing() {
    let evidence = [
        itinerary(1, may(6), "110105"),
        itinerary(2, may(7), "110000"),
        itinerary(3, may(8), " 110108 "),
    ];
    assert_eq!(reconcile_may(&evidence, &[]), NOTHING);
}

#[test]
fn days_covered_by_an_approved_extension_are_nothing() {
    // Filed for 6–8 May, extended to 12 May: the server passes 12 May.
    let extended = filing(FilingStatus::Away, may(6), may(12), &["310000"]);
    let evidence = [
        itinerary(1, may(9), "310000"),
        itinerary(2, may(10), "310000"),
        itinerary(3, may(11), "310000"),
        itinerary(4, may(12), "310000"),
        itinerary(5, may(13), "310000"), // the day after the extended return
    ];
    assert_eq!(
        reconcile_may(&evidence, std::slice::from_ref(&extended)),
        [found(ReturnedLate, may(13), may(13), Some(&extended), &[5])]
    );
}

#[test]
fn a_prefecture_inside_a_filed_province_is_nothing() {
    let trip = filing(FilingStatus::Approved, may(6), may(8), &["320000"]);
    let evidence = [itinerary(1, may(7), "320500")];
    assert_eq!(reconcile_may(&evidence, &[trip]), NOTHING);
}

#[test]
fn a_county_inside_a_filed_province_is_nothing() {
    let trip = filing(FilingStatus::Approved, may(6), may(8), &["310000"]);
    let evidence = [itinerary(1, may(7), "310115")];
    assert_eq!(reconcile_may(&evidence, &[trip]), NOTHING);
}

#[test]
fn a_county_inside_a_filed_prefecture_is_nothing_but_a_sibling_prefecture_differs() {
    let trip = filing(FilingStatus::Approved, may(6), may(8), &["320500"]);
    let evidence = [
        itinerary(1, may(6), "320506"), // a district of Suzhou
        itinerary(2, may(7), "320100"), // Nanjing: same province, not filed
    ];
    assert_eq!(
        reconcile_may(&evidence, std::slice::from_ref(&trip)),
        [found(DestinationDiffers, may(7), may(7), Some(&trip), &[2])]
    );
}

#[test]
fn absent_on_holidays_and_weekends_is_nothing_but_the_make_up_saturday_counts() {
    let evidence = [
        attendance(1, may(1), Absent),  // May Day, a Friday
        attendance(2, may(2), Absent),  // holiday Saturday
        attendance(3, may(5), Out),     // holiday Tuesday
        attendance(4, may(9), Absent),  // Saturday, a make-up working day
        attendance(5, may(10), Absent), // plain Sunday
    ];
    assert_eq!(
        reconcile_may(&evidence, &[]),
        [found(AbsenceWithoutFiling, may(9), may(9), None, &[4])]
    );
}

#[test]
fn leave_or_present_is_nothing() {
    let evidence = [
        attendance(1, may(6), Leave),
        attendance(2, may(7), Present),
        attendance(3, may(8), Leave),
    ];
    assert_eq!(reconcile_may(&evidence, &[]), NOTHING);
}

#[test]
fn drafts_withdrawn_and_cancelled_filings_cover_nothing() {
    let draft = filing(FilingStatus::Draft, may(6), may(6), &["310000"]);
    let withdrawn = filing(FilingStatus::Withdrawn, may(7), may(7), &["310000"]);
    let cancelled = filing(FilingStatus::Cancelled, may(8), may(8), &["310000"]);
    let evidence = [
        itinerary(1, may(6), "310000"),
        itinerary(2, may(7), "310000"),
        itinerary(3, may(8), "310000"),
        attendance(4, may(12), Absent),
    ];
    let idle_draft = filing(FilingStatus::Draft, may(12), may(12), &["310000"]);
    assert_eq!(
        reconcile_may(&evidence, &[draft, withdrawn, cancelled, idle_draft]),
        [
            found(UnreportedDeparture, may(6), may(8), None, &[1, 2, 3]),
            found(AbsenceWithoutFiling, may(12), may(12), None, &[4]),
        ]
    );
}

#[test]
fn a_cancelled_trip_that_ended_recently_does_not_make_returned_late() {
    let cancelled = filing(FilingStatus::Cancelled, may(6), may(8), &["310000"]);
    let evidence = [itinerary(1, may(11), "310000")];
    assert_eq!(
        reconcile_may(&evidence, &[cancelled]),
        [found(UnreportedDeparture, may(11), may(11), None, &[1])]
    );
}

#[test]
fn a_pending_trip_that_ended_recently_does_not_make_returned_late() {
    // Only a *reported* filing's end starts the 14 days.
    let pending = filing(FilingStatus::Pending, may(6), may(8), &["310000"]);
    let evidence = [itinerary(1, may(11), "310000")];
    assert_eq!(
        reconcile_may(&evidence, &[pending]),
        [found(UnreportedDeparture, may(11), may(11), None, &[1])]
    );
}

#[test]
fn a_pending_trip_does_not_excuse_an_absence() {
    // Rule 5 asks for a *reported* filing; a pending one covers the day but
    // does not explain the absence.
    let pending = filing(FilingStatus::Pending, may(6), may(8), &["310000"]);
    let evidence = [attendance(1, may(7), Absent)];
    assert_eq!(
        reconcile_may(&evidence, &[pending]),
        [found(AbsenceWithoutFiling, may(7), may(7), None, &[1])]
    );
}

// ---------------------------------------------------------------------------
// The 14 days of returned_late
// ---------------------------------------------------------------------------

#[test]
fn outside_exactly_14_days_after_the_return_is_returned_late() {
    let trip = filing(FilingStatus::Returned, apr(28), may(1), &["310000"]);
    let evidence = [itinerary(1, may(15), "310000")];
    assert_eq!(may(15) - may(1), Duration::days(14));
    assert_eq!(
        reconcile_may(&evidence, std::slice::from_ref(&trip)),
        [found(ReturnedLate, may(15), may(15), Some(&trip), &[1])]
    );
}

#[test]
fn outside_15_days_after_the_return_is_an_unreported_departure() {
    let trip = filing(FilingStatus::Returned, apr(28), may(1), &["310000"]);
    let evidence = [itinerary(1, may(16), "310000")];
    assert_eq!(
        reconcile_may(&evidence, &[trip]),
        [found(UnreportedDeparture, may(16), may(16), None, &[1])]
    );
}

#[test]
fn staying_on_past_the_14_days_turns_returned_late_into_unreported_departure() {
    let trip = filing(FilingStatus::Returned, apr(28), may(1), &["310000"]);
    let evidence = [
        itinerary(1, may(14), "310000"),
        itinerary(2, may(15), "310000"),
        itinerary(3, may(16), "310000"),
        itinerary(4, may(17), "310000"),
    ];
    assert_eq!(
        reconcile_may(&evidence, std::slice::from_ref(&trip)),
        [
            found(ReturnedLate, may(14), may(15), Some(&trip), &[1, 2]),
            found(UnreportedDeparture, may(16), may(17), None, &[3, 4]),
        ]
    );
}

#[test]
fn a_trip_ending_before_the_window_still_counts_for_returned_late() {
    let trip = filing(FilingStatus::Returned, apr(20), apr(24), &["310000"]);
    let evidence = [itinerary(1, may(6), "310000")];
    assert_eq!(
        reconcile_may(&evidence, std::slice::from_ref(&trip)),
        [found(ReturnedLate, may(6), may(6), Some(&trip), &[1])]
    );
}

// ---------------------------------------------------------------------------
// Border crossings
// ---------------------------------------------------------------------------

#[test]
fn abroad_runs_from_the_exit_day_to_the_day_before_the_entry() {
    let evidence = [exit(1, may(6), "JP"), entry(2, may(10))];
    assert_eq!(
        reconcile_may(&evidence, &[]),
        [found(UnreportedDeparture, may(6), may(9), None, &[1, 2])]
    );
}

#[test]
fn an_exit_before_the_window_with_no_entry_runs_to_the_windows_end() {
    let evidence = [exit(1, apr(25), "JP")];
    let result = reconcile_person(context(may(1), may(10)), &evidence, &[]);
    assert_eq!(
        result,
        [found(UnreportedDeparture, may(1), may(10), None, &[1])]
    );
}

#[test]
fn an_exit_before_the_window_with_its_entry_inside_stops_the_day_before() {
    let evidence = [exit(1, apr(25), "JP"), entry(2, may(4))];
    assert_eq!(
        reconcile_may(&evidence, &[]),
        [found(UnreportedDeparture, may(1), may(3), None, &[1, 2])]
    );
}

#[test]
fn a_round_trip_abroad_entirely_before_the_window_is_nothing() {
    let evidence = [exit(1, apr(20), "JP"), entry(2, apr(25))];
    assert_eq!(reconcile_may(&evidence, &[]), NOTHING);
}

#[test]
fn abroad_on_an_approved_trip_to_that_country_is_nothing() {
    let trip = filing(FilingStatus::Away, may(6), may(10), &["JP"]);
    let evidence = [exit(1, may(6), "JP"), entry(2, may(10))];
    assert_eq!(reconcile_may(&evidence, &[trip]), NOTHING);
}

#[test]
fn abroad_on_an_approved_trip_to_another_country_is_destination_differs() {
    let trip = filing(FilingStatus::Away, may(6), may(10), &["KR"]);
    let evidence = [exit(1, may(6), "JP"), entry(2, may(10))];
    assert_eq!(
        reconcile_may(&evidence, std::slice::from_ref(&trip)),
        [found(
            DestinationDiffers,
            may(6),
            may(9),
            Some(&trip),
            &[1, 2]
        )]
    );
}

#[test]
fn abroad_longer_than_the_approved_trip_is_returned_late_afterwards() {
    let trip = filing(FilingStatus::Away, may(6), may(8), &["TH"]);
    let evidence = [exit(1, may(6), "TH"), entry(2, may(12))];
    assert_eq!(
        reconcile_may(&evidence, std::slice::from_ref(&trip)),
        [found(ReturnedLate, may(9), may(11), Some(&trip), &[1, 2])]
    );
}

#[test]
fn hong_kong_is_outside_and_inside_only_itself() {
    let trip = filing(FilingStatus::Approved, may(6), may(7), &["HK"]);
    let evidence = [
        itinerary(1, may(6), "HK"),
        itinerary(2, may(7), "MO"),
        itinerary(3, may(8), "HK"),
    ];
    assert_eq!(
        reconcile_may(&evidence, std::slice::from_ref(&trip)),
        [
            found(DestinationDiffers, may(7), may(7), Some(&trip), &[2]),
            found(ReturnedLate, may(8), may(8), Some(&trip), &[3]),
        ]
    );
}

// ---------------------------------------------------------------------------
// Runs of days
// ---------------------------------------------------------------------------

#[test]
fn consecutive_days_of_one_kind_merge_with_the_union_of_their_evidence() {
    let evidence = [
        exit(1, may(6), "JP"),
        itinerary(2, may(7), "JP"),
        itinerary(3, may(8), "JP"),
        entry(4, may(9)),
        itinerary(5, may(9), "310000"), // home from Japan by way of Shanghai
    ];
    assert_eq!(
        reconcile_may(&evidence, &[]),
        [found(
            UnreportedDeparture,
            may(6),
            may(9),
            None,
            &[1, 2, 3, 4, 5]
        )]
    );
}

#[test]
fn a_day_without_a_discrepancy_splits_a_run() {
    let evidence = [
        itinerary(1, may(6), "310000"),
        itinerary(2, may(8), "310000"),
        itinerary(3, may(11), "310000"),
        itinerary(4, may(12), "110105"), // back home
        itinerary(5, may(13), "310000"),
    ];
    assert_eq!(
        reconcile_may(&evidence, &[]),
        [
            found(UnreportedDeparture, may(6), may(6), None, &[1]),
            found(UnreportedDeparture, may(8), may(8), None, &[2]),
            found(UnreportedDeparture, may(11), may(11), None, &[3]),
            found(UnreportedDeparture, may(13), may(13), None, &[5]),
        ]
    );
}

#[test]
fn a_change_of_kind_splits_a_run() {
    // Left on Wednesday with nothing filed; filed on Thursday, still pending.
    let trip = filing(FilingStatus::Pending, may(7), may(8), &["310000"]);
    let evidence = [
        itinerary(1, may(6), "310000"),
        itinerary(2, may(7), "310000"),
        itinerary(3, may(8), "310000"),
    ];
    assert_eq!(
        reconcile_may(&evidence, std::slice::from_ref(&trip)),
        [
            found(UnreportedDeparture, may(6), may(6), None, &[1]),
            found(DepartedBeforeApproval, may(7), may(8), Some(&trip), &[2, 3]),
        ]
    );
}

#[test]
fn an_absence_run_is_split_by_the_weekend_between() {
    // Thu 30 April falls outside the window; the run in May starts on the 6th.
    let evidence = [
        attendance(1, apr(30), Absent),
        attendance(2, may(6), Absent),
        attendance(3, may(7), Absent),
        attendance(4, may(8), Absent),
        attendance(5, may(11), Absent), // Monday: the weekend broke the run
    ];
    assert_eq!(
        reconcile_may(&evidence, &[]),
        [
            found(AbsenceWithoutFiling, may(6), may(8), None, &[2, 3, 4]),
            found(AbsenceWithoutFiling, may(11), may(11), None, &[5]),
        ]
    );
}

// ---------------------------------------------------------------------------
// The window
// ---------------------------------------------------------------------------

#[test]
fn evidence_outside_the_window_is_ignored() {
    let evidence = [
        itinerary(1, apr(30), "310000"),
        attendance(2, apr(30), Absent),
        itinerary(3, june(1), "310000"),
        attendance(4, june(1), Out),
        exit(5, june(2), "JP"),
    ];
    assert_eq!(reconcile_may(&evidence, &[]), NOTHING);
}

#[test]
fn a_narrow_window_checks_only_its_own_days() {
    let evidence = [
        itinerary(1, may(6), "310000"),
        itinerary(2, may(7), "310000"),
        itinerary(3, may(8), "310000"),
    ];
    let result = reconcile_person(context(may(7), may(7)), &evidence, &[]);
    assert_eq!(
        result,
        [found(UnreportedDeparture, may(7), may(7), None, &[2])]
    );
}

// ---------------------------------------------------------------------------
// The helpers
// ---------------------------------------------------------------------------

#[test]
fn is_outside_compares_provinces_and_puts_everything_else_outside() {
    assert!(!is_outside("110000", HOME));
    assert!(!is_outside("110105", HOME));
    assert!(!is_outside(" 110105 ", HOME));
    assert!(is_outside("310000", HOME));
    assert!(is_outside("310115", HOME));
    assert!(is_outside("120000", HOME), "Tianjin is next door, not home");
    assert!(is_outside("HK", HOME));
    assert!(is_outside("MO", HOME));
    assert!(is_outside("TW", HOME));
    assert!(is_outside("JP", HOME));
    // A prefecture-level home is still judged by its province.
    assert!(!is_outside("320100", "320500"));
    assert!(is_outside("110105", "320500"));
}

#[test]
fn is_within_follows_provinces_prefectures_and_countries() {
    assert!(is_within("310000", "310000"));
    assert!(is_within("320500", "320000"), "prefecture in its province");
    assert!(is_within("310115", "310000"), "county in its province");
    assert!(is_within("320506", "320500"), "county in its prefecture");
    assert!(is_within(" 320500", "320000 "));
    assert!(
        !is_within("320000", "320500"),
        "a province is not in a prefecture"
    );
    assert!(!is_within("320100", "320500"), "a sibling prefecture");
    assert!(!is_within("330100", "320000"));
    assert!(is_within("JP", "JP"));
    assert!(!is_within("JP", "KR"));
    assert!(is_within("HK", "HK"));
    assert!(!is_within("HK", "440000"), "Hong Kong is not in Guangdong");
    assert!(!is_within("440300", "HK"));
    assert!(!is_within("MO", "HK"));
}

#[test]
fn is_known_location_accepts_table_codes_and_counties_of_known_provinces() {
    assert!(is_known_location("110000"));
    assert!(is_known_location("320500"));
    assert!(is_known_location("310115"), "a county of a known province");
    assert!(is_known_location("110105"));
    assert!(is_known_location("HK"));
    assert!(is_known_location("MO"));
    assert!(is_known_location("TW"));
    assert!(is_known_location("JP"));
    assert!(is_known_location(" JP "));
    assert!(!is_known_location("990000"), "no province 99");
    assert!(!is_known_location("ZZ"));
    assert!(!is_known_location("31011"));
    assert!(!is_known_location("Shanghai"));
    assert!(!is_known_location(""));
}
