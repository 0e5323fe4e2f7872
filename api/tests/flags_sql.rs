#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Proves that the SQL form of the derived filing flags ([`FlagSql`], which the
//! ledger selects as `{late} AS late` and filters and counts on) is core's
//! rule [`flags::derive`]: for generated filings in several time zones
//! (Asia/Shanghai, the default, and zones with clock changes, some of them at
//! local midnight), around day boundaries and clock changes, with instants at
//! microsecond precision, PostgreSQL evaluates each flag, decoded as a
//! non-null bool the way the ledger decodes it, to core's value.
//!
//! The flags are evaluated over a `VALUES` list aliased `f` with the columns of
//! `filings` that they read, so nothing is inserted anywhere.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Bool, Date, Integer, Nullable, Text, Timestamptz};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::cell::{Cell, RefCell};
use whereabouts_api::store::flags::FlagSql;
use whereabouts_api::testing::TestDatabase;
use whereabouts_core::assessment::start_of_day;
use whereabouts_core::flags::{self, DerivedFlags, FlagFacts};
use whereabouts_core::lifecycle::FilingStatus;
use whereabouts_core::policy::Requirement;

const HOUR_US: i64 = 3_600_000_000;
const DAY_US: i64 = 24 * HOUR_US;

/// The zones tested, each with dates its flags are most likely to get wrong:
/// clock changes (some at local midnight, where a day starts in a gap or
/// twice), the turn of the year and a leap day.
fn zones() -> Vec<(Tz, Vec<NaiveDate>)> {
    let d = |s: &str| s.parse::<NaiveDate>().unwrap();
    vec![
        (
            chrono_tz::Asia::Shanghai,
            vec![
                d("2026-01-01"),
                d("2026-05-01"),
                d("2026-10-01"),
                d("2026-12-31"),
                d("2028-02-29"),
            ],
        ),
        (
            chrono_tz::Europe::Berlin,
            vec![
                d("2026-03-29"),
                d("2026-10-25"),
                d("2027-03-28"),
                d("2027-10-31"),
            ],
        ),
        (
            chrono_tz::America::New_York,
            vec![
                d("2026-03-08"),
                d("2026-11-01"),
                d("2027-03-14"),
                d("2027-11-07"),
            ],
        ),
        // Clocks change at local midnight: in April the Saturday runs to
        // 24:00 twice; in September the Sunday has no 00:00.
        (
            chrono_tz::America::Santiago,
            vec![
                d("2026-04-05"),
                d("2026-09-06"),
                d("2027-04-04"),
                d("2027-09-05"),
            ],
        ),
        // Clocks change at local midnight: in March the Sunday has no 00:00;
        // in November its 00:00 comes twice (01:00 goes back to 00:00).
        (
            chrono_tz::America::Havana,
            vec![
                d("2026-03-08"),
                d("2026-11-01"),
                d("2027-03-14"),
                d("2027-11-07"),
            ],
        ),
    ]
}

/// The local midnight an instant is placed near.
#[derive(Debug, Clone, Copy)]
enum Day {
    Depart,
    Return,
    AfterReturn,
}

/// An instant: a local midnight of the filing plus microseconds.
#[derive(Debug, Clone, Copy)]
struct Near {
    day: Day,
    offset_us: i64,
}

/// Where `submitted_at` is: near a midnight or just around `submit_by`.
#[derive(Debug, Clone, Copy)]
enum Submitted {
    Near(Near),
    AroundSubmitBy(i64),
}

/// One generated filing, relative to its scenario's anchor date.
#[derive(Debug, Clone)]
struct Case {
    status: FilingStatus,
    requirement: Option<Requirement>,
    depart_shift: i64,
    length: i64,
    submitted_at: Option<Submitted>,
    submit_by: Option<Near>,
    approved_at: Option<Near>,
}

/// One statement's worth: a zone, a `now`, a grace and a batch of filings.
#[derive(Debug, Clone)]
struct Scenario {
    tz: Tz,
    anchor: NaiveDate,
    grace_hours: i64,
    /// `now` is local midnight of `anchor + now_day`, plus the grace when
    /// `now_after_grace`, plus `now_offset_us`.
    now_day: i64,
    now_after_grace: bool,
    now_offset_us: i64,
    cases: Vec<Case>,
}

fn micros(us: i64) -> Duration {
    Duration::microseconds(us)
}

fn midnight(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    start_of_day(tz, day).with_timezone(&Utc)
}

impl Near {
    fn at(self, tz: Tz, depart_on: NaiveDate, return_on: NaiveDate) -> DateTime<Utc> {
        let day = match self.day {
            Day::Depart => depart_on,
            Day::Return => return_on,
            Day::AfterReturn => return_on + Duration::days(1),
        };
        // Midnights are whole seconds and offsets whole microseconds: every
        // instant is exact in PostgreSQL.
        midnight(tz, day) + micros(self.offset_us)
    }
}

impl Case {
    fn facts(&self, tz: Tz, anchor: NaiveDate, grace_hours: i64) -> FlagFacts {
        let depart_on = anchor + Duration::days(self.depart_shift);
        let return_on = depart_on + Duration::days(self.length);
        let local = |t: DateTime<Utc>| t.with_timezone(&tz).fixed_offset();
        let submit_by = self.submit_by.map(|n| n.at(tz, depart_on, return_on));
        let submitted_at = self.submitted_at.map(|s| match s {
            Submitted::Near(n) => n.at(tz, depart_on, return_on),
            Submitted::AroundSubmitBy(us) => {
                submit_by.unwrap_or_else(|| midnight(tz, depart_on)) + micros(us)
            }
        });
        FlagFacts {
            status: self.status,
            requirement: self.requirement,
            depart_on,
            return_on,
            submitted_at: submitted_at.map(local),
            submit_by: submit_by.map(local),
            approved_at: self
                .approved_at
                .map(|n| local(n.at(tz, depart_on, return_on))),
            grace_hours,
        }
    }
}

impl Scenario {
    fn now(&self) -> DateTime<Utc> {
        let grace = if self.now_after_grace {
            self.grace_hours
        } else {
            0
        };
        midnight(self.tz, self.anchor + Duration::days(self.now_day))
            + Duration::hours(grace)
            + micros(self.now_offset_us)
    }

    fn facts(&self) -> Vec<FlagFacts> {
        self.cases
            .iter()
            .map(|c| c.facts(self.tz, self.anchor, self.grace_hours))
            .collect()
    }
}

/// Microseconds from a midnight: exactly on it, a microsecond either side, an
/// hour either side (the other midnight of a clock change), seconds around
/// it, or anywhere within two days.
fn offset_us() -> impl Strategy<Value = i64> {
    prop_oneof![
        2 => Just(0),
        2 => -1i64..=1,
        1 => prop::sample::select(vec![-HOUR_US, HOUR_US, -HOUR_US - 1, HOUR_US - 1, HOUR_US + 1]),
        2 => -10_000_000i64..=10_000_000,
        3 => -2 * DAY_US..=2 * DAY_US,
    ]
}

fn near() -> impl Strategy<Value = Near> {
    (
        prop_oneof![Just(Day::Depart), Just(Day::Return), Just(Day::AfterReturn)],
        offset_us(),
    )
        .prop_map(|(day, offset_us)| Near { day, offset_us })
}

fn case() -> impl Strategy<Value = Case> {
    let submitted = prop_oneof![
        3 => near().prop_map(Submitted::Near),
        1 => (-2i64..=2).prop_map(Submitted::AroundSubmitBy),
    ];
    (
        prop::sample::select(FilingStatus::ALL.to_vec()),
        prop::sample::select(vec![
            Some(Requirement::None),
            Some(Requirement::Report),
            Some(Requirement::Approval),
        ]),
        -2i64..=2,
        prop_oneof![Just(0i64), 0i64..=3],
        proptest::option::weighted(0.8, submitted),
        proptest::option::weighted(0.6, near()),
        proptest::option::weighted(0.6, near()),
    )
        .prop_map(
            |(status, requirement, depart_shift, length, submitted_at, submit_by, approved_at)| {
                Case {
                    status,
                    requirement,
                    depart_shift,
                    length,
                    submitted_at,
                    submit_by,
                    approved_at,
                }
            },
        )
}

fn scenario() -> impl Strategy<Value = Scenario> {
    prop::sample::select(zones()).prop_flat_map(|(tz, anchors)| {
        (
            prop::sample::select(anchors),
            0i64..=72,
            -2i64..=6,
            any::<bool>(),
            offset_us(),
            prop::collection::vec(case(), 64),
        )
            .prop_map(
                move |(anchor, grace_hours, now_day, now_after_grace, now_offset_us, cases)| {
                    Scenario {
                        tz,
                        anchor,
                        grace_hours,
                        now_day,
                        now_after_grace,
                        now_offset_us,
                        cases,
                    }
                },
            )
    })
}

/// The flags as the ledger decodes them: non-null bools.
#[derive(QueryableByName, Debug)]
struct FlagRow {
    #[diesel(sql_type = Integer)]
    i: i32,
    #[diesel(sql_type = Bool)]
    late: bool,
    #[diesel(sql_type = Bool)]
    overdue: bool,
    #[diesel(sql_type = Bool)]
    departed_before_approval: bool,
}

/// The same, read leniently, to say which row was NULL when [`FlagRow`]
/// cannot be decoded.
#[derive(QueryableByName, Debug)]
struct NullableFlagRow {
    #[diesel(sql_type = Integer)]
    i: i32,
    #[diesel(sql_type = Nullable<Bool>)]
    late: Option<bool>,
    #[diesel(sql_type = Nullable<Bool>)]
    overdue: Option<bool>,
    #[diesel(sql_type = Nullable<Bool>)]
    departed_before_approval: Option<bool>,
}

/// One statement selecting the three flags, as the ledger's `select_sql`
/// does, over every filing of `facts` bound as a row of `f`.
fn flags_query(flags: &FlagSql, facts: &[FlagFacts]) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    let rows: Vec<String> = (0..facts.len())
        .map(|k| {
            let b = k * 8;
            format!(
                "(${}::int, ${}::text, ${}::text, ${}::date, ${}::date, ${}::timestamptz, ${}::timestamptz, ${}::timestamptz)",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8
            )
        })
        .collect();
    let sql = format!(
        "SELECT f.i, {} AS late, {} AS overdue, {} AS departed_before_approval
         FROM (VALUES {}) AS f(i, status, requirement, depart_on, return_on, submitted_at, submit_by, approved_at)
         ORDER BY f.i",
        flags.late,
        flags.overdue,
        flags.departed_before_approval,
        rows.join(", ")
    );
    let mut query = diesel::sql_query(sql).into_boxed::<Pg>();
    let utc = |t: Option<DateTime<chrono::FixedOffset>>| t.map(|t| t.with_timezone(&Utc));
    for (k, f) in facts.iter().enumerate() {
        query = query
            .bind::<Integer, _>(i32::try_from(k).unwrap())
            .bind::<Text, _>(f.status.as_str().to_owned())
            .bind::<Nullable<Text>, _>(f.requirement.map(|r| r.as_str().to_owned()))
            .bind::<Date, _>(f.depart_on)
            .bind::<Date, _>(f.return_on)
            .bind::<Nullable<Timestamptz>, _>(utc(f.submitted_at))
            .bind::<Nullable<Timestamptz>, _>(utc(f.submit_by))
            .bind::<Nullable<Timestamptz>, _>(utc(f.approved_at));
    }
    query
}

/// PostgreSQL's flags for each filing, decoded as the ledger decodes them.
fn sql_flags(
    conn: &mut PgConnection,
    flags: &FlagSql,
    facts: &[FlagFacts],
) -> QueryResult<Vec<DerivedFlags>> {
    let rows = flags_query(flags, facts).load::<FlagRow>(conn)?;
    assert_eq!(rows.len(), facts.len());
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(k, r)| {
            assert_eq!(usize::try_from(r.i).unwrap(), k);
            DerivedFlags {
                late: r.late,
                overdue: r.overdue,
                departed_before_approval: r.departed_before_approval,
            }
        })
        .collect())
}

/// Compares PostgreSQL with core on every filing of a batch; the failure names
/// the first filing where they differ, or where SQL said NULL.
fn compare(
    conn: &mut PgConnection,
    tz: Tz,
    now: DateTime<Utc>,
    grace_hours: i64,
    facts: &[FlagFacts],
) -> Result<Vec<DerivedFlags>, String> {
    let flag_sql = FlagSql::at(tz, now, grace_hours);
    let core: Vec<DerivedFlags> = facts
        .iter()
        .map(|f| flags::derive(f, tz, now.fixed_offset()))
        .collect();
    let context = |k: usize| {
        format!(
            "tz {tz}, now {}, grace {grace_hours} h\n  facts {:?}\n  core  {:?}",
            now.to_rfc3339(),
            facts[k],
            core[k]
        )
    };
    match sql_flags(conn, &flag_sql, facts) {
        Ok(sql) => {
            for (k, (c, s)) in core.iter().zip(&sql).enumerate() {
                if c != s {
                    return Err(format!(
                        "SQL and core disagree:\n  {}\n  sql   {s:?}",
                        context(k)
                    ));
                }
            }
            Ok(core)
        }
        Err(error) => {
            let lenient = flags_query(&flag_sql, facts)
                .load::<NullableFlagRow>(conn)
                .map_err(|e| format!("the flags do not evaluate: {e}"))?;
            let k = lenient
                .iter()
                .position(|r| {
                    r.late.is_none() || r.overdue.is_none() || r.departed_before_approval.is_none()
                })
                .ok_or_else(|| format!("the flags do not decode as bools: {error}"))?;
            let r = &lenient[k];
            Err(format!(
                "SQL yields NULL where the ledger decodes a bool ({error}):\n  {}\n  sql   late {:?}, overdue {:?}, departed_before_approval {:?} (row {})",
                context(k),
                r.late,
                r.overdue,
                r.departed_before_approval,
                r.i
            ))
        }
    }
}

#[test]
fn the_ledger_flags_in_sql_are_cores_flags_for_generated_filings() {
    let db = TestDatabase::new();
    let conn = RefCell::new(db.connect());
    let runs = Cell::new(0u32);
    let started = std::time::Instant::now();
    let mut runner = TestRunner::new(Config {
        cases: 256,
        max_shrink_iters: 512,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&scenario(), |s| {
        runs.set(runs.get() + 1);
        compare(
            &mut conn.borrow_mut(),
            s.tz,
            s.now(),
            s.grace_hours,
            &s.facts(),
        )
        .map(|_| ())
        .map_err(TestCaseError::fail)
    });
    eprintln!(
        "{} statements of 64 filings each in {:.1?}",
        runs.get(),
        started.elapsed()
    );
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

fn t(s: &str) -> DateTime<chrono::FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn may_day_trip() -> FlagFacts {
    FlagFacts {
        status: FilingStatus::Approved,
        requirement: Some(Requirement::Approval),
        depart_on: "2027-05-01".parse().unwrap(),
        return_on: "2027-05-05".parse().unwrap(),
        submitted_at: Some(t("2027-04-20T10:00:00+08:00")),
        submit_by: None,
        approved_at: Some(t("2027-04-21T10:00:00+08:00")),
        grace_hours: 24,
    }
}

/// Both sides' flags for each filing, which must agree.
fn both(now: &str, facts: &[FlagFacts]) -> Vec<DerivedFlags> {
    both_in(chrono_tz::Asia::Shanghai, now, facts)
}

/// Both sides' flags for each filing in `tz`, which must agree.
fn both_in(tz: Tz, now: &str, facts: &[FlagFacts]) -> Vec<DerivedFlags> {
    let db = TestDatabase::new();
    let now = t(now).with_timezone(&Utc);
    compare(&mut db.connect(), tz, now, facts[0].grace_hours, facts)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_filing_submitted_exactly_at_local_midnight_of_departure_is_late_and_a_microsecond_earlier_is_not()
 {
    let mut at_midnight = may_day_trip();
    at_midnight.submitted_at = Some(t("2027-05-01T00:00:00+08:00"));
    let mut just_before = may_day_trip();
    just_before.submitted_at = Some(t("2027-04-30T23:59:59.999999+08:00"));
    let mut past_deadline = may_day_trip();
    past_deadline.submit_by = Some(t("2027-04-27T18:00:00+08:00"));
    past_deadline.submitted_at = Some(t("2027-04-27T18:00:00.000001+08:00"));
    let mut at_deadline = past_deadline;
    at_deadline.submitted_at = past_deadline.submit_by;
    let flags = both(
        "2027-05-02T00:00:00+08:00",
        &[at_midnight, just_before, past_deadline, at_deadline],
    );
    let late: Vec<bool> = flags.iter().map(|f| f.late).collect();
    assert_eq!(late, [true, false, true, false]);
}

#[test]
fn an_away_filing_is_not_overdue_exactly_at_the_end_of_the_return_day_plus_grace_but_a_microsecond_later()
 {
    let mut away = may_day_trip();
    away.status = FilingStatus::Away;
    // The return day ends at 00:00 on 6 May; 24 hours' grace run to 7 May.
    let at_end = both("2027-05-07T00:00:00+08:00", &[away]);
    let after = both("2027-05-07T00:00:00.000001+08:00", &[away]);
    assert!(!at_end[0].overdue);
    assert!(after[0].overdue);
}

#[test]
fn a_filing_without_a_requirement_has_a_false_departed_before_approval_flag_in_sql_as_in_core() {
    // No requirement recorded (a draft, or a row from before requirements
    // were kept): nothing needed approval, whatever the approval timestamps.
    let mut approved_late = may_day_trip();
    approved_late.requirement = None;
    approved_late.approved_at = Some(t("2027-05-01T08:00:00+08:00"));
    let mut pending = may_day_trip();
    pending.requirement = None;
    pending.status = FilingStatus::Pending;
    pending.approved_at = None;
    let flags = both("2027-05-02T00:00:00+08:00", &[approved_late, pending]);
    assert!(flags.iter().all(|f| !f.departed_before_approval));
}

#[test]
fn a_day_whose_midnight_comes_twice_starts_at_the_first_one_in_sql_as_in_core() {
    // Havana sets its clocks back from 01:00 to 00:00 on 1 November 2026, so
    // 00:00 comes at 04:00 UTC and again at 05:00 UTC; the day starts at the
    // first. PostgreSQL alone reads the ambiguous 00:00 as the second.
    let mut trip = may_day_trip();
    trip.depart_on = "2026-11-01".parse().unwrap();
    trip.return_on = "2026-11-01".parse().unwrap();
    trip.grace_hours = 0;
    let mut at_first = trip;
    at_first.submitted_at = Some(t("2026-11-01T04:00:00Z"));
    at_first.approved_at = Some(t("2026-10-30T12:00:00Z"));
    let mut before_first = trip;
    before_first.submitted_at = Some(t("2026-11-01T03:59:59.999999Z"));
    before_first.approved_at = Some(t("2026-11-01T04:00:00.000001Z"));
    let flags = both_in(
        chrono_tz::America::Havana,
        "2026-11-02T12:00:00Z",
        &[at_first, before_first],
    );
    assert!(flags[0].late, "filed at the first midnight is late");
    assert!(!flags[1].late);
    assert!(
        flags[1].departed_before_approval,
        "approved after the first midnight"
    );
}
