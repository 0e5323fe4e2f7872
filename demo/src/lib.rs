//! The demo district (`whereabouts-demo`): fills an empty database with a
//! synthetic district the size of the one in the report that started this
//! project — 133 units, tens of thousands of cadres, the May Day holiday's
//! filings and travel evidence — as the product's demo and as the base for
//! benchmarks.
//!
//! The district is planned inside PostgreSQL, set-based (`generate_series`,
//! md5 hashes of fixed strings and modular arithmetic into temporary
//! tables), so the same options give the same data (only the password
//! hash's salt differs). It is then written as the server writes it: units,
//! accounts, role grants, leadership, policies and special periods through
//! the store's functions (after the checks the routes make), and each May
//! Day trip filed by its filer through the store and the core, then taken
//! through its approvers' decisions, its withdrawal or cancellation, its
//! departure and its return by the same transitions the routes run, each at
//! its own moment (the server's clock set to it). The rules are the core's:
//! the policies are checked by it, and each trip's requirement and deadline
//! are what its assessment decides (a trip it would refuse is not filed;
//! `tests/agree.rs` holds every filing to it). Two bulks are written
//! set-based from the core's decisions instead, because a row at a time
//! they would take hours: the optional history (up to millions of filings,
//! each decided by the core first) and the travel evidence. It all happens
//! in one transaction; an empty database is required.
//!
//! What the district holds, and what an inspection finds in it:
//! - the district (`demo-district`), 133 units, each with 1–3 second-level
//!   units and 2–4 departments spread under the unit and its subunits;
//!   leaders on every node (principals, deputies in charge, department heads);
//! - policies of varying completeness: the district's covers only leaving the
//!   jurisdiction; about 60% of the units have a complete policy of their own,
//!   15% an incomplete one, 15% none (they inherit the district's), and 10% a
//!   complete one that a second-level unit overrides with an empty or
//!   simplistic policy of its own;
//! - the May Day 2026 special periods, about 12% of the people filing a trip
//!   over the holiday, and optional historical filings;
//! - itinerary, border-crossing and attendance evidence for 28 April – 7 May:
//!   clean in three quarters of the units; in the other quarter 1–3% of the
//!   people left Beijing without filing, and some returned late, went
//!   elsewhere than filed, left before approval or were absent.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::connection::SimpleConnection;
use diesel::dsl::sql;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Jsonb, Text, Timestamptz};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::fmt;
use std::time::Instant;
use uuid::Uuid;
use whereabouts_api::config::Config;
use whereabouts_api::db::{self, Db, SetupError};
use whereabouts_api::extract::{AppState, Principal};
use whereabouts_api::store;
use whereabouts_api::store::context::Contexts;
use whereabouts_api::store::special_periods::SpecialPeriodInput;
use whereabouts_core::{
    AssessmentInput, Calendar, Lang, Policy, Settings, TripDraft, assess, policy_gaps,
};

mod names;
mod policies;
mod write;

pub use names::{COUNTRIES, MAINLAND, unit_names};
use names::{DEPARTMENTS, GIVEN_NAMES, SUBUNIT_SUFFIXES, SURNAMES};
use write::api;

/// The password every demo account gets unless `--password` says otherwise.
pub const DEFAULT_PASSWORD: &str = "demo-password-1";
/// The number of units under the district (as in the report).
pub const UNITS: usize = 133;
/// The first day of the May Day evidence window.
pub const WINDOW_FROM: &str = "2026-04-28";
/// The last day of the May Day evidence window.
pub const WINDOW_TO: &str = "2026-05-07";
/// The first day `--evidence-days` attendance records cover.
const ATTENDANCE_FROM: &str = "2026-05-06";
/// The district's time zone: the demo is a Beijing district.
const TZ: &str = "Asia/Shanghai";
/// The home jurisdiction: Beijing, as the server's default configuration.
const HOME: &str = "110000";

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    /// Cadres (logins `u00001`…), leaders included; administrators come on top.
    pub accounts: u32,
    /// Historical trips (2025-01-01 to mid-April 2026) besides May Day's;
    /// those the core would refuse are not filed.
    pub filings: u32,
    /// Working days of attendance `present` records per person from 2026-05-06.
    pub evidence_days: u32,
    /// The password of every demo account.
    pub password: String,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            accounts: 40_000,
            filings: 0,
            evidence_days: 0,
            password: DEFAULT_PASSWORD.to_owned(),
        }
    }
}

/// Why the demo could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The database already holds units: the demo fills only an empty one.
    #[error(
        "the database already has {0} units; `whereabouts-demo` fills only an empty database (drop it, or point DATABASE_URL at a new one)"
    )]
    NotEmpty(i64),
    /// The options cannot make a district.
    #[error("{0}")]
    Invalid(String),
    /// Creating or migrating the database failed.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// A statement failed.
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
    /// The generator's own data does not hold together (a bug).
    #[error("demo data: {0}")]
    Inconsistent(String),
}

/// Policy completeness of the 133 units, as `policy-coverage` will report it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyCounts {
    /// Units with a complete policy of their own that covers their whole subtree.
    pub complete: i64,
    /// Units with an incomplete policy of their own.
    pub incomplete: i64,
    /// Units with no policy of their own (they inherit the district's incomplete one).
    pub none: i64,
    /// Units complete themselves, with a second-level unit whose own policy is not.
    pub not_extended: i64,
    /// Rows in `policies` (all versions).
    pub rows: i64,
}

/// What the demo created.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DemoSummary {
    /// The district's unit id.
    pub district_id: Uuid,
    /// Units (the nodes of kind `unit`).
    pub units: i64,
    /// Second-level units.
    pub subunits: i64,
    /// Departments.
    pub departments: i64,
    /// Accounts in all (cadres and administrators).
    pub accounts: i64,
    /// Of them, the cadres (`u00001`…).
    pub cadres: i64,
    /// Cadres by rank: clerk, section, division, bureau.
    pub ranks: [i64; 4],
    /// Unit deputies.
    pub deputies: i64,
    /// Role grants.
    pub role_grants: i64,
    /// Policies by completeness.
    pub policies: PolicyCounts,
    /// Special periods.
    pub special_periods: i64,
    /// Filings of the May Day holiday, by status.
    pub may_day_filings: Vec<(String, i64)>,
    /// Historical filings.
    pub historical_filings: i64,
    /// Trips the core would not accept (for example abroad, under a policy
    /// that asks approval but names no approver), so never filed: May Day's
    /// and historical ones.
    pub refused: (i64, i64),
    /// Filings in all.
    pub filings: i64,
    /// Approval steps.
    pub filing_steps: i64,
    /// Filing events.
    pub filing_events: i64,
    /// Evidence imports.
    pub evidence_imports: i64,
    /// Evidence rows by source.
    pub evidence: Vec<(String, i64)>,
    /// Units where somebody left without filing (and other discrepancies sit).
    pub problem_units: i64,
    /// People who left Beijing without filing.
    pub unreported: i64,
    /// Units they belong to.
    pub unreported_units: i64,
    /// Logins worth trying, with what they are.
    pub logins: Vec<(String, String)>,
    /// The password of every demo account.
    pub password: String,
    /// How long generation took, in seconds.
    pub seconds: f64,
}

impl DemoSummary {
    /// Evidence rows in all.
    pub fn evidence_rows(&self) -> i64 {
        self.evidence.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "demo district generated in {:.1} s", self.seconds)?;
        writeln!(f, "  district (demo-district): {}", self.district_id)?;
        writeln!(
            f,
            "  units: {} units, {} second-level units, {} departments",
            self.units, self.subunits, self.departments
        )?;
        writeln!(
            f,
            "  accounts: {} ({} cadres: {} clerk, {} section, {} division, {} bureau; {} administrators and inspectors)",
            self.accounts,
            self.cadres,
            self.ranks[0],
            self.ranks[1],
            self.ranks[2],
            self.ranks[3],
            self.accounts - self.cadres
        )?;
        writeln!(
            f,
            "  leadership: {} deputies in charge; {} role grants",
            self.deputies, self.role_grants
        )?;
        let p = &self.policies;
        writeln!(
            f,
            "  policies ({} rows): district incomplete; units: {} complete, {} incomplete, {} none (inherit the district's), {} not extended to a second-level unit",
            p.rows, p.complete, p.incomplete, p.none, p.not_extended
        )?;
        writeln!(
            f,
            "  special periods: {} (May Day 2026-05-01..05-05)",
            self.special_periods
        )?;
        let may_day: i64 = self.may_day_filings.iter().map(|(_, n)| n).sum();
        let statuses: Vec<String> = self
            .may_day_filings
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        writeln!(
            f,
            "  filings: {} (May Day {may_day}: {}; historical {}; the core refused {} and {} trips); {} approval steps, {} events",
            self.filings,
            statuses.join(", "),
            self.historical_filings,
            self.refused.0,
            self.refused.1,
            self.filing_steps,
            self.filing_events
        )?;
        let sources: Vec<String> = self
            .evidence
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        writeln!(
            f,
            "  evidence: {} rows ({}) in {} imports",
            self.evidence_rows(),
            sources.join(", "),
            self.evidence_imports
        )?;
        writeln!(
            f,
            "  planted problems: {} people left Beijing without filing, in {} units; late returns, other destinations, departures before approval and absences in {} of the {} units; reconcile {WINDOW_FROM}..{WINDOW_TO} to find them",
            self.unreported, self.unreported_units, self.problem_units, self.units
        )?;
        writeln!(f, "  logins (password {}):", self.password)?;
        for (login, what) in &self.logins {
            writeln!(f, "    {login:<18} {what}")?;
        }
        Ok(())
    }
}

/// Creates the database if it is missing, runs the migrations and generates the demo.
pub fn run(database_url: &str, options: &DemoOptions) -> Result<DemoSummary, DemoError> {
    db::create_database_if_missing(database_url)?;
    db::migrate(database_url)?;
    let mut conn =
        PgConnection::establish(database_url).map_err(|e| SetupError::Connection(e.to_string()))?;
    generate(&mut conn, database_url, options)
}

/// Generates the demo district into an empty, migrated database, in one
/// transaction on `conn` (which must be connected to `database_url`), then
/// vacuums and analyzes the tables.
pub fn generate(
    conn: &mut PgConnection,
    database_url: &str,
    options: &DemoOptions,
) -> Result<DemoSummary, DemoError> {
    if let Some(problem) = whereabouts_api::auth::password_problem(&options.password) {
        return Err(DemoError::Invalid(format!(
            "the password does not meet the password rules ({problem}): at least 10 characters, letters and digits"
        )));
    }
    if options.accounts > 999_999 {
        return Err(DemoError::Invalid("--accounts is at most 999999".into()));
    }
    if options.evidence_days > 250 {
        return Err(DemoError::Invalid("--evidence-days is at most 250".into()));
    }
    check_destinations()?;
    let started = Instant::now();
    // Hash once: argon2 is slow on purpose, and every account shares it.
    let password_hash = whereabouts_api::auth::hash_password(&options.password)
        .map_err(|e| DemoError::Inconsistent(format!("hashing the password: {e}")))?;
    // The store functions run on `conn`; the server's pool is never used.
    let mut config = Config::for_tests(database_url);
    config.home_code = HOME.to_owned();
    config.time_zone = chrono_tz::Asia::Shanghai;
    let state = AppState::new(
        config,
        Db::heavy(database_url, 1, std::time::Duration::from_secs(1)),
    );
    let summary = conn.transaction::<_, DemoError, _>(|conn| {
        Generator {
            conn,
            options,
            password_hash: &password_hash,
            refused: (0, 0),
            state,
            principals: HashMap::new(),
        }
        .all()
    })?;
    // Vacuumed as autovacuum would leave it: statistics, and the visibility
    // map that lets the ledger count from its index alone.
    step("vacuum", || conn.batch_execute("VACUUM (ANALYZE)"))?;
    Ok(DemoSummary {
        seconds: started.elapsed().as_secs_f64(),
        ..summary
    })
}

fn step<T>(what: &str, work: impl FnOnce() -> QueryResult<T>) -> Result<T, DemoError> {
    let started = Instant::now();
    let value = work()?;
    tracing::info!(
        step = what,
        ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "demo"
    );
    Ok(value)
}

/// Logs how long writing `rows` rows through the store took.
fn logged(what: &str, rows: usize, started: Instant) {
    tracing::info!(
        step = what,
        rows,
        ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "demo"
    );
}

fn count(conn: &mut PgConnection, query: &str) -> QueryResult<i64> {
    diesel::select(sql::<BigInt>(&format!("({query})"))).get_result(conn)
}

/// `ARRAY['a', 'b']` of constant strings.
fn sql_array(items: &[&str]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| format!("'{}'", s.replace('\'', "''")))
        .collect();
    format!("ARRAY[{}]", quoted.join(", "))
}

fn date(s: &str) -> Result<NaiveDate, DemoError> {
    s.parse()
        .map_err(|_| DemoError::Inconsistent(format!("bad date {s}")))
}

/// Every destination the generator uses must be a code the server knows.
fn check_destinations() -> Result<(), DemoError> {
    for code in MAINLAND
        .iter()
        .chain(COUNTRIES)
        .chain(&["HK", "MO", "TW", "440100"])
    {
        if whereabouts_core::regions::lookup(code).is_none() {
            return Err(DemoError::Inconsistent(format!(
                "unknown destination {code}"
            )));
        }
        if code.starts_with("11") {
            return Err(DemoError::Inconsistent(format!(
                "destination {code} is inside Beijing"
            )));
        }
    }
    Ok(())
}

/// The first `n` working days from 2026-05-06.
fn attendance_days(n: u32) -> Result<Vec<NaiveDate>, DemoError> {
    let calendar = Calendar::default();
    let mut day = date(ATTENDANCE_FROM)?;
    let mut days = Vec::new();
    // `n` is at most 250: a year and a half of days holds that many working days.
    for _ in 0..550 {
        if days.len() >= n as usize {
            break;
        }
        if calendar.is_working_day(day) {
            days.push(day);
        }
        day += Duration::days(1);
    }
    Ok(days)
}

struct Generator<'a> {
    conn: &'a mut PgConnection,
    options: &'a DemoOptions,
    password_hash: &'a str,
    /// Trips the core refused: May Day's, historical.
    refused: (i64, i64),
    /// The server whose store functions write the district, its clock set
    /// to each step's moment by [`Generator::at`].
    state: AppState,
    /// Callers already loaded.
    principals: HashMap<Uuid, Principal>,
}

/// The fixed instants of the demo's history.
const CREATED: &str = "TIMESTAMPTZ '2026-01-05 09:00:00+08'";

impl Generator<'_> {
    fn exec(&mut self, what: &str, statement: &str) -> Result<(), DemoError> {
        let conn = &mut *self.conn;
        step(what, || conn.batch_execute(statement))
    }

    fn all(mut self) -> Result<DemoSummary, DemoError> {
        // JIT compiling these one-off statements costs far more than it saves
        // (seconds per statement, the md5 calls make them look expensive).
        self.conn
            .batch_execute("SET LOCAL jit = off; SELECT pg_advisory_xact_lock(7172027)")?;
        let units = count(self.conn, "SELECT count(*) FROM units")?;
        if units > 0 {
            return Err(DemoError::NotEmpty(units));
        }
        let district: Uuid =
            diesel::select(sql::<diesel::sql_types::Uuid>("md5('demo:district')::uuid"))
                .get_result(self.conn)?;
        self.helpers()?;
        self.tree()?;
        self.people()?;
        self.accounts()?;
        self.policies(district)?;
        self.special_periods()?;
        self.may_day()?;
        self.history()?;
        self.evidence()?;
        let admin: Uuid = diesel::select(sql::<diesel::sql_types::Uuid>("md5('demo:admin')::uuid"))
            .get_result(self.conn)?;
        whereabouts_api::audit::append(
            self.conn,
            Some(admin),
            "demo",
            Some(district),
            "generate",
            json!({"accounts": self.options.accounts, "filings": self.options.filings,
                   "evidence_days": self.options.evidence_days}),
        )
        .map_err(|e| DemoError::Inconsistent(format!("audit: {e}")))?;
        self.summary(district)
    }

    /// A hash function.
    fn helpers(&mut self) -> Result<(), DemoError> {
        self.exec(
            "helpers",
            "CREATE OR REPLACE FUNCTION pg_temp.demo_h(t text) RETURNS bigint
               LANGUAGE sql IMMUTABLE PARALLEL SAFE
               AS $$ SELECT ('x' || substr(md5(t), 1, 12))::bit(48)::bigint $$;",
        )
    }

    /// What the core decides of each trip in `table` (`account` names the
    /// filer's column): its requirement, its deadline and the policy in
    /// force, assessed from the filer's context as the server would, well
    /// before the trip. A trip the core would refuse to file is dropped:
    /// nobody could have filed it. Answers how many were dropped.
    fn decide(&mut self, table: &str, account: &str) -> Result<i64, DemoError> {
        #[derive(QueryableByName)]
        struct Intent {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            filing_id: Uuid,
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            account_id: Uuid,
            #[diesel(sql_type = Jsonb)]
            draft: Value,
            #[diesel(sql_type = diesel::sql_types::Timestamptz)]
            depart_start: DateTime<Utc>,
        }
        let conn = &mut *self.conn;
        let started = Instant::now();
        let settings = Settings {
            home_code: HOME.to_owned(),
            time_zone: chrono_tz::Asia::Shanghai,
        };
        // Each filer's context is read once: the trips come by filer, a page
        // at a time, and their decisions go back a page at a time.
        let contexts = Contexts::default();
        diesel::sql_query(format!("CREATE INDEX ON {table} ({account}, filing_id)"))
            .execute(conn)?;
        let mut after = (Uuid::nil(), Uuid::nil());
        let mut assessed = 0_usize;
        loop {
            let intents: Vec<Intent> = diesel::sql_query(format!(
                "SELECT t.filing_id, t.{account} AS account_id, {draft} AS draft, t.depart_start
                 FROM {table} t WHERE (t.{account}, t.filing_id) > ($1, $2)
                 ORDER BY t.{account}, t.filing_id LIMIT 20000",
                draft = draft_sql("t", "false"),
            ))
            .bind::<diesel::sql_types::Uuid, _>(after.0)
            .bind::<diesel::sql_types::Uuid, _>(after.1)
            .load(conn)?;
            let Some(last) = intents.last() else {
                break;
            };
            after = (last.account_id, last.filing_id);
            let mut decided = Vec::with_capacity(intents.len());
            for intent in intents {
                let filer = contexts
                    .of(conn, intent.account_id)
                    .map_err(|e| DemoError::Inconsistent(format!("a filer's context: {e:?}")))?;
                let draft: TripDraft = serde_json::from_value(intent.draft)
                    .map_err(|e| DemoError::Inconsistent(format!("a demo draft: {e}")))?;
                let context = filer.context.clone();
                let assessment = assess(&AssessmentInput {
                    now: (intent.depart_start - Duration::days(60))
                        .with_timezone(&settings.time_zone)
                        .fixed_offset(),
                    settings: settings.clone(),
                    lang: Lang::ZhCn,
                    profile: context.profile,
                    org: context.org,
                    policy: context.policy,
                    special_periods: context.special_periods,
                    calendar: context.calendar,
                    draft,
                });
                decided.push(json!({
                    "id": intent.filing_id,
                    "fileable": assessment.valid,
                    "requirement": assessment.requirement,
                    "submit_by": assessment.submit_by,
                    "policy_unit_id": assessment.policy_unit_id,
                    "policy_version": assessment.policy_version,
                }));
            }
            assessed += decided.len();
            diesel::sql_query(format!(
                "UPDATE {table} t SET requirement = v.requirement, submit_by = v.submit_by,
                                      policy_unit_id = v.policy_unit_id,
                                      policy_version = v.policy_version
                 FROM jsonb_to_recordset($1) AS v(id uuid, fileable boolean, requirement text,
                                                  submit_by timestamptz, policy_unit_id uuid,
                                                  policy_version int)
                 WHERE t.filing_id = v.id AND v.fileable"
            ))
            .bind::<Jsonb, _>(Value::Array(decided))
            .execute(conn)?;
        }
        tracing::info!(
            step = format!("{table}: decided by the core").as_str(),
            trips = assessed,
            ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "demo"
        );
        let refused = step(&format!("{table}: refused"), || {
            diesel::sql_query(format!("DELETE FROM {table} WHERE submit_by IS NULL")).execute(conn)
        })?;
        Ok(i64::try_from(refused).unwrap_or(i64::MAX))
    }

    /// The district, its units, their second-level units and departments.
    fn tree(&mut self) -> Result<(), DemoError> {
        let names = unit_names();
        if names.len() != UNITS {
            return Err(DemoError::Inconsistent("unit names".into()));
        }
        let conn = &mut *self.conn;
        step("units", || {
            diesel::sql_query(
                // Which quarter of the units has problems, and which policy a
                // unit has, are two different permutations of the unit numbers.
                "CREATE TEMP TABLE demo_units ON COMMIT DROP AS
                 SELECT t.i::int AS unit_no, md5('demo:unit:' || t.i)::uuid AS id,
                        'u-' || lpad(t.i::text, 3, '0') AS code, t.name,
                        (1 + pg_temp.demo_h('subunits:' || t.i) % 3)::int AS subunits,
                        (2 + pg_temp.demo_h('departments:' || t.i) % 3)::int AS departments,
                        (1 + pg_temp.demo_h('deputies:' || t.i) % 2)::int AS deputies,
                        (1 + pg_temp.demo_h('size:' || t.i) % 3)::int AS size,
                        (t.i * 37 + 11) % 133 < 33 AS problem,
                        (1 + pg_temp.demo_h('leavers:' || t.i) % 3)::int AS leaver_percent,
                        CASE WHEN (t.i * 53) % 133 < 80 THEN 'complete'
                             WHEN (t.i * 53) % 133 < 100 THEN 'incomplete'
                             WHEN (t.i * 53) % 133 < 120 THEN 'none'
                             ELSE 'not_extended' END AS policy
                 FROM unnest($1::text[]) WITH ORDINALITY AS t(name, i)",
            )
            .bind::<Array<Text>, _>(&names)
            .execute(conn)
        })?;
        let suffixes = sql_array(SUBUNIT_SUFFIXES);
        let departments = sql_array(DEPARTMENTS);
        let (ns, nd) = (SUBUNIT_SUFFIXES.len(), DEPARTMENTS.len());
        self.exec(
            "tree",
            &format!(
                "CREATE TEMP TABLE demo_nodes (
                   id uuid PRIMARY KEY, code text NOT NULL, name text NOT NULL, kind text NOT NULL,
                   parent_id uuid, path uuid[] NOT NULL, level int NOT NULL, unit_no int NOT NULL,
                   deputies int NOT NULL, weight int NOT NULL) ON COMMIT DROP;
                 INSERT INTO demo_nodes VALUES (md5('demo:district')::uuid, 'demo-district', '演示区',
                   'jurisdiction', NULL, ARRAY[md5('demo:district')::uuid], 0, 0, 4, 0);
                 INSERT INTO demo_nodes
                 SELECT u.id, u.code, u.name, 'unit', d.id, ARRAY[d.id, u.id], 1, u.unit_no, u.deputies, 0
                 FROM demo_units u, demo_nodes d WHERE d.level = 0;
                 -- Staff sit in departments, and directly in second-level units that have none.
                 INSERT INTO demo_nodes
                 SELECT s.id, s.code, u.name || ({suffixes})[1 + (u.unit_no + s.k) % {ns}], 'subunit', u.id,
                        ARRAY[md5('demo:district')::uuid, u.id, s.id], 2, u.unit_no,
                        (1 + pg_temp.demo_h('deputies:' || s.code) % 2)::int,
                        CASE WHEN s.k <= u.departments - 1 THEN 0
                             ELSE (4 + pg_temp.demo_h('weight:' || s.code) % 12)::int * u.size END
                 FROM demo_units u
                 CROSS JOIN LATERAL (SELECT k, md5('demo:subunit:' || u.unit_no || ':' || k)::uuid AS id,
                                            u.code || '-s' || k AS code
                                     FROM generate_series(1, u.subunits) k) s;
                 -- Department k sits under the unit (k = 1, 1 + S, …) or its subunit (k - 1) mod (1 + S).
                 INSERT INTO demo_nodes
                 SELECT dp.id, dp.code, p.name || ({departments})[1 + (u.unit_no + dp.k) % {nd}], 'department',
                        p.id, p.path || dp.id, p.level + 1, u.unit_no, 0,
                        (4 + pg_temp.demo_h('weight:' || dp.code) % 12)::int * u.size
                 FROM demo_units u
                 CROSS JOIN LATERAL (SELECT k, md5('demo:department:' || u.unit_no || ':' || k)::uuid AS id,
                                            u.code || '-d' || k AS code,
                                            (k - 1) % (1 + u.subunits) AS host
                                     FROM generate_series(1, u.departments) k) dp
                 JOIN demo_nodes p ON p.id = CASE WHEN dp.host = 0 THEN u.id
                                                  ELSE md5('demo:subunit:' || u.unit_no || ':' || dp.host)::uuid END;
"
            ),
        )?;
        self.write_units()
    }

    /// Who sits where: leaders on every node first (logins from `u00001`),
    /// then staff spread over the departments by weight.
    fn people(&mut self) -> Result<(), DemoError> {
        self.exec(
            "leaders",
            "CREATE TEMP TABLE demo_people (
               n int PRIMARY KEY, id uuid NOT NULL, node_id uuid NOT NULL, path uuid[] NOT NULL,
               unit_no int NOT NULL, problem boolean NOT NULL, position text NOT NULL,
               -- 0 the principal or head, 1.. the deputies, -1 staff
               ord int NOT NULL, rank text NOT NULL, mobile text,
               head_id uuid, unit_principal_id uuid, substitute_id uuid) ON COMMIT DROP;
             INSERT INTO demo_people (n, id, node_id, path, unit_no, problem, position, ord, rank)
             SELECT s.n, md5('demo:account:' || s.n)::uuid, s.id, s.path, s.unit_no, coalesce(u.problem, false),
                    s.position, s.ord,
                    CASE WHEN s.kind = 'jurisdiction' THEN 'bureau'
                         WHEN s.kind = 'unit' AND s.ord = 0 THEN
                           CASE WHEN pg_temp.demo_h('rank:' || s.n) % 4 = 0 THEN 'bureau' ELSE 'division' END
                         WHEN s.kind = 'unit' THEN 'division'
                         WHEN s.kind = 'subunit' AND s.ord = 0 THEN
                           CASE WHEN pg_temp.demo_h('rank:' || s.n) % 2 = 0 THEN 'division' ELSE 'section' END
                         WHEN s.kind = 'subunit' THEN 'section'
                         ELSE CASE WHEN pg_temp.demo_h('rank:' || s.n) % 5 = 0 THEN 'division' ELSE 'section' END
                    END
             FROM (SELECT row_number() OVER (ORDER BY nd.level, nd.code, o.ord)::int AS n, nd.id, nd.path,
                          nd.unit_no, nd.kind, o.ord,
                          CASE WHEN o.ord > 0 THEN 'deputy' WHEN nd.kind = 'department' THEN 'department_head'
                               ELSE 'principal' END AS position
                   FROM demo_nodes nd
                   CROSS JOIN LATERAL (SELECT 0 AS ord UNION ALL SELECT g FROM generate_series(1, nd.deputies) g) o
                  ) s
             LEFT JOIN demo_units u ON u.unit_no = s.unit_no;",
        )?;
        let leaders = count(self.conn, "SELECT count(*) FROM demo_people")?;
        let hosts = count(
            self.conn,
            "SELECT count(*) FROM demo_nodes WHERE weight > 0",
        )?;
        let accounts = i64::from(self.options.accounts);
        if accounts < leaders + hosts {
            return Err(DemoError::Invalid(format!(
                "--accounts must be at least {} ({leaders} leaders and a member of staff in each of {hosts} departments)",
                leaders + hosts
            )));
        }
        let staff = accounts - leaders;
        self.exec(
            "staff",
            &format!(
                "INSERT INTO demo_people (n, id, node_id, path, unit_no, problem, position, ord, rank)
                 SELECT s.n, md5('demo:account:' || s.n)::uuid, s.id, s.path, s.unit_no, coalesce(u.problem, false),
                        'staff', -1,
                        CASE WHEN pg_temp.demo_h('rank:' || s.n) % 1000 < 615 THEN 'clerk'
                             WHEN pg_temp.demo_h('rank:' || s.n) % 1000 < 860 THEN 'section'
                             WHEN pg_temp.demo_h('rank:' || s.n) % 1000 < 970 THEN 'division'
                             ELSE 'bureau' END
                 FROM (SELECT {leaders} + row_number() OVER (ORDER BY a.level, a.code, g)::int AS n,
                              a.id, a.path, a.unit_no
                       FROM (SELECT h.*, (h.hi - h.weight) * {staff} / t.w AS lo_n, h.hi * {staff} / t.w AS hi_n
                             FROM (SELECT id, path, unit_no, level, code, weight,
                                          sum(weight) OVER (ORDER BY level, code) AS hi
                                   FROM demo_nodes WHERE weight > 0) h,
                                  (SELECT sum(weight) AS w FROM demo_nodes) t) a
                       CROSS JOIN LATERAL generate_series(1, (a.hi_n - a.lo_n)::int) g) s
                 LEFT JOIN demo_units u ON u.unit_no = s.unit_no;
                 UPDATE demo_people SET mobile = '1' || (ARRAY['3', '5', '7', '8', '9'])[1 + (pg_temp.demo_h('mobile:' || n) % 5)::int]
                        || lpad((pg_temp.demo_h('mobile:' || n) / 5 % 1000000000)::text, 9, '0');"
            ),
        )?;
        let people = count(self.conn, "SELECT count(*) FROM demo_people")?;
        if people != accounts {
            return Err(DemoError::Inconsistent(format!(
                "{people} people for {accounts} accounts"
            )));
        }
        Ok(())
    }

    /// The accounts, leadership, administrators and their role grants.
    fn accounts(&mut self) -> Result<(), DemoError> {
        let width = self.options.accounts.to_string().len().max(5);
        let surnames = sql_array(SURNAMES);
        let given = sql_array(GIVEN_NAMES);
        let (nsur, ngiv) = (SURNAMES.len(), GIVEN_NAMES.len());
        // Planned first, then written through the store.
        self.exec(
            "accounts plan",
            "CREATE TEMP TABLE demo_accounts (LIKE accounts INCLUDING DEFAULTS) ON COMMIT DROP",
        )?;
        let conn = &mut *self.conn;
        let hash = self.password_hash;
        step("accounts", || {
            diesel::sql_query(format!(
                // Surnames weigh towards the common ones (the list starts with them).
                "INSERT INTO demo_accounts (id, login, display_name, unit_id, employee_no, mobile, rank, position,
                                            party_member, public_official, key_post, password_hash,
                                            credentials_changed_at, created_at, updated_at)
                 SELECT p.id, 'u' || lpad(p.n::text, {width}, '0'),
                        ({surnames})[1 + floor({nsur} * power((pg_temp.demo_h('family:' || p.n) % 10000) / 10000.0, 1.6))::int]
                          || ({given})[1 + (pg_temp.demo_h('given:' || p.n) % {ngiv})::int],
                        p.node_id, 'E' || lpad(p.n::text, {width}, '0'), p.mobile, p.rank, p.position,
                        p.position <> 'staff' OR pg_temp.demo_h('party:' || p.n) % 100 < 72,
                        p.position <> 'staff' OR pg_temp.demo_h('official:' || p.n) % 100 < 96,
                        pg_temp.demo_h('key:' || p.n) % 100 < 3,
                        $1, {CREATED}, {CREATED}, {CREATED}
                 FROM demo_people p ORDER BY p.n"
            ))
            .bind::<Text, _>(hash)
            .execute(conn)
        })?;
        let conn = &mut *self.conn;
        step("administrators", || {
            diesel::sql_query(format!(
                "INSERT INTO demo_accounts (id, login, display_name, unit_id, rank, position, party_member,
                                            public_official, key_post, password_hash, credentials_changed_at,
                                            created_at, updated_at)
                 SELECT a.id, a.login, a.name, a.unit_id, a.rank, 'staff', a.party, a.party, false, $1,
                        {CREATED}, {CREATED}, {CREATED}
                 FROM (VALUES (md5('demo:admin')::uuid, 'demo-admin', '演示系统管理员', NULL::uuid, 'clerk', false),
                              (md5('demo:inspector')::uuid, 'demo-inspector', '区纪委监委监督检查室', md5('demo:district')::uuid, 'division', true),
                              (md5('demo:inspector-7')::uuid, 'demo-inspector-7', '区纪委监委派驻纪检监察组', md5('demo:district')::uuid, 'section', true)
                      ) AS a(id, login, name, unit_id, rank, party)
                 UNION ALL
                 SELECT md5('demo:unit-admin:' || u.unit_no)::uuid, 'u-admin-' || lpad(u.unit_no::text, 3, '0'),
                        u.name || '组织人事干部', u.id, 'section', 'staff', true, true, false, $1,
                        {CREATED}, {CREATED}, {CREATED}
                 FROM demo_units u"
            ))
            .bind::<Text, _>(hash)
            .execute(conn)
        })?;
        self.write_accounts()?;
        self.exec(
            "leadership plan",
            // Deputies are in charge of contiguous runs of the node's children
            // (the district's of groups of units).
            "CREATE TEMP TABLE demo_deputies ON COMMIT DROP AS
             SELECT p.node_id AS unit_id, p.id AS account_id, p.ord - 1 AS ordinal,
                    coalesce((SELECT array_agg(c.id ORDER BY c.code)
                              FROM (SELECT c.id, c.code, row_number() OVER (ORDER BY c.code) - 1 AS i,
                                           count(*) OVER () AS total
                                    FROM demo_nodes c WHERE c.parent_id = p.node_id) c
                              WHERE c.i * nd.deputies / c.total = p.ord - 1), '{}') AS in_charge_of
             FROM demo_people p JOIN demo_nodes nd ON nd.id = p.node_id
             WHERE p.position = 'deputy'",
        )?;
        self.write_grants()?;
        self.write_leaders()?;
        self.exec(
            "approvers and substitutes",
            "UPDATE demo_people p SET head_id = u.principal_id FROM units u WHERE u.id = p.node_id;
             UPDATE demo_people p SET unit_principal_id = u.principal_id
             FROM units u WHERE u.id = p.path[least(2, cardinality(p.path))];
             -- Principals and deputies must name a substitute: a deputy stands in
             -- for the principal, the principal for a deputy.
             UPDATE demo_people p SET substitute_id = s.id
             FROM demo_people s
             WHERE p.ord >= 0 AND p.position <> 'department_head' AND s.node_id = p.node_id
               AND s.ord = CASE WHEN p.ord = 0 THEN 1 ELSE 0 END;",
        )
    }

    /// The district's incomplete policy and the units' policies; checks each
    /// against core's completeness test so the summary says what coverage will.
    fn policies(&mut self, district: Uuid) -> Result<(), DemoError> {
        let complete = policies::complete(district);
        let cases: [(&str, &Value, bool); 6] = [
            ("complete", &complete, true),
            ("without_abroad", &policies::without_abroad(), false),
            (
                "approval_without_approvers",
                &policies::approval_without_approvers(),
                false,
            ),
            ("district", &policies::district(), false),
            ("simplistic", &policies::simplistic(), false),
            ("empty", &policies::empty(), false),
        ];
        for (name, rules, want_complete) in cases {
            let policy: Policy = serde_json::from_value(json!({ "rules": rules }))
                .map_err(|e| DemoError::Inconsistent(format!("policy {name}: {e}")))?;
            if !policy.check().is_empty() || policy_gaps(&policy).is_empty() != want_complete {
                return Err(DemoError::Inconsistent(format!(
                    "policy {name} is not what it should be"
                )));
            }
        }
        let inserts: [(&str, &str, Value); 7] = [
            (
                // The district: "report when leaving Beijing", nothing on abroad.
                "SELECT md5('demo:district')::uuid, 1, TIMESTAMPTZ '2025-12-01 10:00:00+08', md5('demo:admin')::uuid",
                "district",
                policies::district(),
            ),
            (
                // A third of the complete units started from a simplistic version 1.
                "SELECT id, 1, TIMESTAMPTZ '2026-01-10 10:00:00+08', md5('demo:unit-admin:' || unit_no)::uuid
                 FROM demo_units WHERE policy IN ('complete', 'not_extended') AND unit_no % 3 = 0",
                "simplistic v1",
                policies::simplistic(),
            ),
            (
                "SELECT id, CASE WHEN unit_no % 3 = 0 THEN 2 ELSE 1 END,
                        TIMESTAMPTZ '2026-03-02 10:00:00+08' + unit_no * interval '1 hour',
                        md5('demo:unit-admin:' || unit_no)::uuid
                 FROM demo_units WHERE policy IN ('complete', 'not_extended')",
                "complete",
                complete.clone(),
            ),
            (
                "SELECT id, 1, TIMESTAMPTZ '2026-03-02 10:00:00+08', md5('demo:unit-admin:' || unit_no)::uuid
                 FROM demo_units WHERE policy = 'incomplete' AND unit_no % 2 = 0",
                "without abroad",
                policies::without_abroad(),
            ),
            (
                "SELECT id, 1, TIMESTAMPTZ '2026-03-02 10:00:00+08', md5('demo:unit-admin:' || unit_no)::uuid
                 FROM demo_units WHERE policy = 'incomplete' AND unit_no % 2 = 1",
                "approval without approvers",
                policies::approval_without_approvers(),
            ),
            (
                // Not extended: the first second-level unit has a policy of its own.
                "SELECT md5('demo:subunit:' || unit_no || ':1')::uuid, 1, TIMESTAMPTZ '2026-03-09 10:00:00+08',
                        md5('demo:unit-admin:' || unit_no)::uuid
                 FROM demo_units WHERE policy = 'not_extended' AND unit_no % 2 = 0",
                "subunit empty",
                policies::empty(),
            ),
            (
                "SELECT md5('demo:subunit:' || unit_no || ':1')::uuid, 1, TIMESTAMPTZ '2026-03-09 10:00:00+08',
                        md5('demo:unit-admin:' || unit_no)::uuid
                 FROM demo_units WHERE policy = 'not_extended' AND unit_no % 2 = 1",
                "subunit simplistic",
                policies::simplistic(),
            ),
        ];
        #[derive(QueryableByName)]
        struct Version {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            unit_id: Uuid,
            #[diesel(sql_type = Integer)]
            version: i32,
            #[diesel(sql_type = Timestamptz)]
            created_at: DateTime<Utc>,
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            created_by: Uuid,
        }
        let started = Instant::now();
        let mut saved = Vec::new();
        for (select, what, rules) in inserts {
            let policy = store::policies::decode(rules).map_err(api)?;
            let unknown = store::policies::unknown_references(self.conn, &policy).map_err(api)?;
            if !policy.check().is_empty() || !unknown.is_empty() {
                return Err(DemoError::Inconsistent(format!(
                    "policy {what} would be refused"
                )));
            }
            let versions: Vec<Version> = diesel::sql_query(format!(
                "SELECT s.unit_id, s.version, s.created_at, s.created_by
                 FROM ({select}) s(unit_id, version, created_at, created_by)"
            ))
            .load(self.conn)?;
            for v in versions {
                store::policies::save(self.conn, v.unit_id, v.version, &policy, v.created_by)
                    .map_err(api)?;
                saved.push(json!({"unit_id": v.unit_id, "version": v.version,
                                  "created_at": v.created_at}));
            }
        }
        logged("policies, through the store", saved.len(), started);
        let conn = &mut *self.conn;
        step("policies dated", || {
            diesel::sql_query(
                "UPDATE policies p SET created_at = v.created_at
                 FROM jsonb_to_recordset($1) AS v(unit_id uuid, version int, created_at timestamptz)
                 WHERE p.unit_id = v.unit_id AND p.version = v.version",
            )
            .bind::<Jsonb, _>(Value::Array(saved))
            .execute(conn)
        })?;
        Ok(())
    }

    /// May Day 2026 over the whole district: approval for trips abroad, Hong
    /// Kong, Macau and Taiwan; a report for leaving Beijing.
    fn special_periods(&mut self) -> Result<(), DemoError> {
        let district: Uuid =
            diesel::select(sql::<diesel::sql_types::Uuid>("md5('demo:district')::uuid"))
                .get_result(self.conn)?;
        let periods = [
            (
                "demo:special:abroad",
                json!({"name": "2026年劳动节假期因私出国（境）管控", "unit_id": district,
                       "starts_on": "2026-05-01", "ends_on": "2026-05-05",
                       "trip_kinds": ["abroad_private", "hk_macau_private", "taiwan_private"],
                       "min_requirement": "approval",
                       "approvers": [{"kind": "department_head"}, {"kind": "unit_principal"}]}),
            ),
            (
                "demo:special:leave",
                json!({"name": "2026年劳动节假期离京报备", "unit_id": district,
                       "starts_on": "2026-05-01", "ends_on": "2026-05-05",
                       "trip_kinds": ["leave_jurisdiction"], "min_requirement": "report"}),
            ),
        ];
        for (key, input) in periods {
            let input: SpecialPeriodInput = serde_json::from_value(input)
                .map_err(|e| DemoError::Inconsistent(format!("a special period: {e}")))?;
            let id: Uuid = diesel::select(
                sql::<diesel::sql_types::Uuid>("md5(")
                    .bind::<Text, _>(key)
                    .sql(")::uuid"),
            )
            .get_result(self.conn)?;
            store::special_periods::save(self.conn, id, &input, 1).map_err(api)?;
        }
        self.exec(
            "special periods dated",
            "UPDATE special_periods SET created_at = TIMESTAMPTZ '2026-04-15 10:00:00+08',
                                        updated_at = TIMESTAMPTZ '2026-04-15 10:00:00+08'",
        )
    }

    /// About 12% of the people file a trip over the May Day holiday.
    fn may_day(&mut self) -> Result<(), DemoError> {
        let mainland = sql_array(MAINLAND);
        let countries = sql_array(COUNTRIES);
        let (nm, nc) = (MAINLAND.len(), COUNTRIES.len());
        self.exec(
            "may day trips",
            &format!(
                "CREATE TEMP TABLE demo_intents ON COMMIT DROP AS
                 WITH a AS MATERIALIZED (
                   SELECT p.*, pg_temp.demo_h('trip:' || p.n) AS h, pg_temp.demo_h('trip2:' || p.n) AS h2
                   FROM demo_people p WHERE pg_temp.demo_h('files:' || p.n) % 1000 < 120
                 ), b AS (
                   SELECT a.*,
                          CASE WHEN a.position <> 'staff' OR a.h % 100 < 84 THEN 'leave_jurisdiction'
                               WHEN a.h % 100 < 93 THEN 'abroad_private'
                               WHEN a.h % 100 < 99 THEN 'hk_macau_private'
                               ELSE 'taiwan_private' END AS kind,
                          DATE '2026-04-28' + (ARRAY[0, 1, 2, 3, 3, 3, 3, 3, 4, 5])[1 + (a.h / 10000 % 10)::int] AS depart_on
                   FROM a
                 ), c AS (
                   SELECT b.*,
                          CASE b.kind WHEN 'leave_jurisdiction' THEN ({mainland})[1 + (b.h / 100 % {nm})::int]
                                      WHEN 'abroad_private' THEN ({countries})[1 + (b.h / 100 % {nc})::int]
                                      WHEN 'hk_macau_private' THEN CASE WHEN b.h / 100 % 3 = 0 THEN 'MO' ELSE 'HK' END
                                      ELSE 'TW' END AS dest,
                          least(b.depart_on + CASE WHEN b.kind = 'leave_jurisdiction' THEN (1 + b.h / 100000 % 4)::int
                                                   ELSE (3 + b.h / 100000 % 3)::int END,
                                DATE '2026-05-06') AS return_on,
                          (b.h / 1000000 % 100)::int AS st,
                          b.h / 100000000 % 100 < 8 AS late
                   FROM b
                 )
                 SELECT md5('demo:filing:may:' || c.n)::uuid AS filing_id, c.*,
                        CASE WHEN c.kind <> 'leave_jurisdiction' THEN
                               CASE WHEN c.h2 % 10 < 8 THEN 'tourism' ELSE 'visit_relatives' END
                             ELSE (ARRAY['visit_relatives', 'visit_relatives', 'visit_relatives', 'visit_relatives',
                                         'tourism', 'tourism', 'tourism', 'tourism', 'medical', 'personal_affairs'])
                                  [1 + (c.h2 % 10)::int] END AS purpose,
                        c.depart_on::timestamp AT TIME ZONE '{TZ}' AS depart_start,
                        NULL::text AS requirement, NULL::timestamptz AS submit_by,
                        NULL::uuid AS policy_unit_id, NULL::int AS policy_version
                 FROM c;
                 ALTER TABLE demo_intents ADD PRIMARY KEY (filing_id);"
            ),
        )?;
        self.refused.0 = self.decide("demo_intents", "id")?;
        self.exec(
            "may day trips",
            &format!(
                "CREATE TEMP TABLE demo_trips ON COMMIT DROP AS
                 WITH d AS (
                   SELECT c.*,
                          CASE WHEN c.requirement = 'report' THEN
                                 CASE WHEN c.st < 6 THEN 'recorded' WHEN c.st < 10 THEN 'away'
                                      WHEN c.st < 96 THEN 'returned' ELSE 'cancelled' END
                               ELSE
                                 CASE WHEN c.st < 5 THEN 'pending' WHEN c.st < 10 THEN 'approved'
                                      WHEN c.st < 13 THEN 'rejected' WHEN c.st < 17 THEN 'withdrawn'
                                      WHEN c.st < 20 THEN 'cancelled' WHEN c.st < 26 THEN 'away'
                                      ELSE 'returned' END END AS status
                   FROM demo_intents c
                 ), e AS (
                   -- The planted problems, only in the problem quarter of the units.
                   SELECT d.*,
                          CASE WHEN d.problem AND d.status IN ('returned', 'away') AND d.h2 / 100 % 100 < 5
                               THEN (1 + d.h2 / 10000 % 2)::int ELSE 0 END AS late_days,
                          d.problem AND d.dest = '310000' AND d.h2 / 100000 % 100 < 40 AS differs,
                          d.problem AND d.requirement = 'approval' AND d.status IN ('approved', 'away', 'returned')
                            AND d.h2 / 10000000 % 100 < 15 AS approved_late,
                          d.status IN ('recorded', 'approved', 'away', 'returned')
                            OR (d.status = 'pending' AND d.problem) AS travelled,
                          CASE WHEN d.late THEN d.submit_by + make_interval(hours => (1 + d.h2 / 1000000000 % 40)::int,
                                                                             mins => (d.h % 60)::int)
                               ELSE d.submit_by - make_interval(hours => (2 + d.h2 / 1000000000 % 120)::int,
                                                                mins => (d.h % 60)::int) END AS submitted_at
                   FROM d
                 ), f AS (
                   SELECT e.*,
                          CASE WHEN e.requirement = 'approval' AND e.status IN ('approved', 'away', 'returned', 'cancelled') THEN
                                 CASE WHEN e.approved_late THEN e.depart_start + interval '30 hours'
                                      ELSE least(e.submitted_at + make_interval(hours => (1 + e.h2 / 100000000000 % 30)::int),
                                                 greatest(e.submitted_at + interval '30 minutes', e.depart_start - interval '2 hours'))
                                 END END AS approved_at,
                          CASE WHEN e.status = 'pending' THEN (1 + e.h2 / 1000000000000 % 2)::int END AS current_step
                   FROM e
                 )
                 SELECT f.filing_id, f.n, f.id AS account_id, f.node_id, f.path, f.policy_unit_id, f.policy_version,
                        f.path[least(2, cardinality(f.path))] AS owner, f.unit_no, f.problem, f.position, f.mobile,
                        f.head_id, f.unit_principal_id, f.substitute_id, f.kind, f.dest, f.purpose, f.depart_on,
                        f.return_on, f.requirement, f.status, f.late_days, f.differs, f.approved_late, f.travelled,
                        f.current_step, f.submit_by, f.submitted_at, f.depart_start, f.approved_at,
                        CASE WHEN f.approved_at IS NOT NULL THEN f.submitted_at + (f.approved_at - f.submitted_at) / 2
                             WHEN f.current_step = 2 THEN f.submitted_at + interval '2 hours' END AS step1_at,
                        CASE WHEN f.status IN ('away', 'returned') THEN
                               greatest(f.depart_start + interval '8 hours',
                                        coalesce(f.approved_at, f.submitted_at) + interval '1 hour') END AS departed_at,
                        CASE WHEN f.status = 'returned' THEN
                               (f.return_on + f.late_days)::timestamp AT TIME ZONE '{TZ}' + interval '20 hours' END AS returned_at,
                        CASE WHEN f.status = 'cancelled' THEN
                               greatest(coalesce(f.approved_at, f.submitted_at) + interval '1 hour',
                                        f.depart_start - interval '20 hours') END AS cancelled_at
                 FROM f;
                 ALTER TABLE demo_trips ADD PRIMARY KEY (filing_id);"
            ),
        )?;
        self.file_may_day()
    }

    /// Historical filings over 2025-01-01..2026-04-13, mostly returned: the
    /// bulk benchmarks grow. They end before 14 April so that none counts as
    /// a recent trip for the May Day reconciliation (its 14-day look-back).
    fn history(&mut self) -> Result<(), DemoError> {
        let filings = self.options.filings;
        if filings == 0 {
            return Ok(());
        }
        let accounts = self.options.accounts;
        let mainland = sql_array(MAINLAND);
        let countries = sql_array(COUNTRIES);
        let (nm, nc) = (MAINLAND.len(), COUNTRIES.len());
        // 2025-01-01 + 463 days = 2026-04-09.
        self.exec(
            "historical trip intents",
            &format!(
                "CREATE TEMP TABLE demo_history_intents ON COMMIT DROP AS
                 -- Materialized: an inlined CTE would hash the same text once per use of `h`.
                 WITH a AS MATERIALIZED (
                   SELECT f, m, ('x' || substr(m, 1, 12))::bit(48)::bigint AS h,
                          ('x' || substr(m, 13, 12))::bit(48)::bigint AS h2
                   FROM generate_series(1, {filings}) f, LATERAL md5('demo:filing:history:' || f) m
                 ), b AS (
                   SELECT a.f, a.m::uuid AS filing_id, a.h, a.h2, p.n, p.id AS account_id, p.node_id, p.path,
                          p.position, p.mobile, p.head_id, p.unit_principal_id, p.substitute_id,
                          DATE '2025-01-01' + (a.h / {accounts} % 463)::int AS depart_on,
                          CASE WHEN p.position = 'staff' AND a.h2 / 100 % 100 < 14 THEN
                                 CASE WHEN a.h2 / 10000 % 100 < 60 THEN 'abroad_private'
                                      WHEN a.h2 / 10000 % 100 < 92 THEN 'hk_macau_private'
                                      ELSE 'taiwan_private' END
                               ELSE 'leave_jurisdiction' END AS kind
                   FROM a JOIN demo_people p ON p.n = 1 + (a.h % {accounts})::int
                 ), c AS (
                   SELECT b.*,
                          CASE b.kind WHEN 'leave_jurisdiction' THEN ({mainland})[1 + (b.h2 / 1000000 % {nm})::int]
                                      WHEN 'abroad_private' THEN ({countries})[1 + (b.h2 / 1000000 % {nc})::int]
                                      WHEN 'hk_macau_private' THEN CASE WHEN b.h2 / 1000000 % 3 = 0 THEN 'MO' ELSE 'HK' END
                                      ELSE 'TW' END AS dest,
                          least(b.depart_on + (b.h2 / 100000000 % 5)::int
                                  + CASE WHEN b.kind = 'leave_jurisdiction' THEN 0 ELSE 2 END,
                                DATE '2026-04-13') AS return_on,
                          (b.h2 / 1000000000 % 100)::int AS st,
                          b.h2 / 100000000000 % 100 < 6 AS late,
                          (ARRAY['visit_relatives', 'visit_relatives', 'tourism', 'tourism', 'tourism', 'medical',
                                 'personal_affairs', 'other'])[1 + (b.h / 100000000000 % 8)::int] AS purpose
                   FROM b
                 )
                 SELECT c.*, c.depart_on::timestamp AT TIME ZONE '{TZ}' AS depart_start,
                        NULL::text AS requirement, NULL::timestamptz AS submit_by,
                        NULL::uuid AS policy_unit_id, NULL::int AS policy_version
                 FROM c;
                 ALTER TABLE demo_history_intents ADD PRIMARY KEY (filing_id);",
            ),
        )?;
        self.refused.1 = self.decide("demo_history_intents", "account_id")?;
        self.exec(
            "historical trips",
            "CREATE TEMP TABLE demo_history ON COMMIT DROP AS
                 WITH d AS (
                   SELECT c.*,
                          CASE WHEN c.requirement = 'report' THEN
                                 CASE WHEN c.st < 3 THEN 'recorded' WHEN c.st < 6 THEN 'cancelled' ELSE 'returned' END
                               ELSE
                                 CASE WHEN c.st < 2 THEN 'withdrawn' WHEN c.st < 4 THEN 'rejected'
                                      WHEN c.st < 6 THEN 'cancelled' WHEN c.st < 8 THEN 'approved'
                                      ELSE 'returned' END END AS status
                   FROM demo_history_intents c
                 ), e AS (
                   SELECT d.*,
                          CASE WHEN d.late THEN d.submit_by + make_interval(hours => (1 + d.h / 10000000 % 30)::int,
                                                                             mins => (d.h2 % 60)::int)
                               ELSE d.submit_by - make_interval(hours => (2 + d.h / 10000000 % 200)::int,
                                                                mins => (d.h2 % 60)::int) END AS submitted_at
                   FROM d
                 )
                 SELECT e.*,
                        CASE WHEN e.requirement = 'approval' AND e.status IN ('approved', 'returned', 'cancelled') THEN
                               least(e.submitted_at + make_interval(hours => (1 + e.h2 % 30)::int),
                                     greatest(e.submitted_at + interval '30 minutes', e.depart_start - interval '2 hours'))
                        END AS approved_at
                 FROM e;",
        )?;
        // Building the secondary indexes once afterwards is several times
        // faster than maintaining them row by row; the transaction puts them
        // back as they were whatever happens.
        let rebuild = filings >= 50_000;
        if rebuild {
            self.exec(
                "drop filings indexes",
                "SET LOCAL maintenance_work_mem = '256MB';
                 CREATE TEMP TABLE demo_indexes ON COMMIT DROP AS
                 SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
                 FROM pg_index i
                 WHERE i.indrelid = 'filings'::regclass
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid);
                 DO $$ DECLARE r record; BEGIN
                   FOR r IN SELECT name FROM demo_indexes LOOP EXECUTE 'DROP INDEX ' || r.name; END LOOP;
                 END $$;",
            )?;
        }
        self.exec(
            "historical filings",
            &format!(
                "INSERT INTO filings (id, account_id, unit_id, unit_path, status, kind, depart_on, return_on, draft,
                                      requirement, policy_unit_id, policy_version, current_round, current_step, steps,
                                      submit_by, submitted_at, approved_at, departed_at, returned_at, return_report,
                                      version, created_at, updated_at)
                 SELECT t.filing_id, t.account_id, t.node_id, t.path, t.status, t.kind, t.depart_on, t.return_on,
                        {draft}, t.requirement, t.policy_unit_id, t.policy_version, 0, NULL,
                        CASE WHEN t.requirement = 'approval' THEN 2 ELSE 0 END,
                        t.submit_by, t.submitted_at, t.approved_at,
                        CASE WHEN t.status = 'returned' THEN greatest(t.depart_start + interval '8 hours',
                             coalesce(t.approved_at, t.submitted_at) + interval '1 hour') END,
                        CASE WHEN t.status = 'returned' THEN t.return_on::timestamp AT TIME ZONE '{TZ}' + interval '20 hours' END,
                        CASE WHEN t.status = 'returned' THEN '已按期返京。' END,
                        2 + CASE WHEN t.approved_at IS NOT NULL THEN 2 WHEN t.status = 'rejected' THEN 1 ELSE 0 END
                          + CASE t.status WHEN 'returned' THEN 2 WHEN 'cancelled' THEN 1 WHEN 'withdrawn' THEN 1 ELSE 0 END,
                        t.submitted_at - interval '10 minutes',
                        CASE WHEN t.status = 'returned' THEN t.return_on::timestamp AT TIME ZONE '{TZ}' + interval '20 hours'
                             ELSE coalesce(t.approved_at, t.submitted_at) END
                 -- In the order they were filed, as a live system stores them.
                 FROM demo_history t ORDER BY t.submitted_at, t.filing_id;
                 INSERT INTO filing_steps (filing_id, round, step, rule, candidates, decision, decided_by, comment, decided_at)
                 SELECT filing_id, 0, 1, '{{\"kind\": \"department_head\"}}'::jsonb, ARRAY[head_id],
                        CASE WHEN approved_at IS NOT NULL THEN 'approved' WHEN status = 'rejected' THEN 'rejected' END,
                        CASE WHEN approved_at IS NOT NULL OR status = 'rejected' THEN head_id END,
                        CASE WHEN status = 'rejected' THEN '工作安排冲突。' END,
                        CASE WHEN approved_at IS NOT NULL THEN submitted_at + (approved_at - submitted_at) / 2
                             WHEN status = 'rejected' THEN submitted_at + interval '3 hours' END
                 FROM demo_history WHERE requirement = 'approval'
                 UNION ALL
                 SELECT filing_id, 0, 2, '{{\"kind\": \"unit_principal\"}}'::jsonb, ARRAY[unit_principal_id],
                        CASE WHEN approved_at IS NOT NULL THEN 'approved' END,
                        CASE WHEN approved_at IS NOT NULL THEN unit_principal_id END, NULL, approved_at
                 FROM demo_history WHERE requirement = 'approval';",
                draft = draft_sql("t", "t.submitted_at >= t.depart_start"),
            ),
        )?;
        if rebuild {
            self.exec(
                "rebuild filings indexes",
                "DO $$ DECLARE r record; BEGIN
                   FOR r IN SELECT definition FROM demo_indexes LOOP EXECUTE r.definition; END LOOP;
                 END $$;",
            )?;
        }
        Ok(())
    }

    /// Itinerary, border-crossing and attendance evidence for the May Day
    /// window, imported per unit; optionally a working-day attendance register.
    fn evidence(&mut self) -> Result<(), DemoError> {
        let mainland = sql_array(MAINLAND);
        let countries = sql_array(COUNTRIES);
        let (nm, nc) = (MAINLAND.len(), COUNTRIES.len());
        let days = attendance_days(self.options.evidence_days)?;
        let days = if days.is_empty() {
            "ARRAY[]::date[]".to_owned()
        } else {
            let listed: Vec<String> = days.iter().map(|d| format!("DATE '{d}'")).collect();
            format!("ARRAY[{}]", listed.join(", "))
        };
        self.exec(
            "evidence",
            &format!(
                "CREATE TEMP TABLE demo_ev (owner uuid NOT NULL, source text NOT NULL, n int NOT NULL,
                   account_id uuid NOT NULL, unit_path uuid[] NOT NULL, date date NOT NULL, location_code text,
                   direction text, status text) ON COMMIT DROP;
                 -- Everyone who filed and went is where they filed on their trip days (some
                 -- return late; some filed for Shanghai but were in Guangzhou).
                 INSERT INTO demo_ev
                 SELECT t.owner, 'itinerary', t.n, t.account_id, t.path, g::date,
                        CASE WHEN t.differs AND (g::date > t.depart_on OR t.depart_on = t.return_on) THEN '440100'
                             ELSE t.dest END, NULL, NULL
                 FROM demo_trips t
                 CROSS JOIN LATERAL generate_series(t.depart_on, t.return_on + t.late_days, interval '1 day') g
                 WHERE t.travelled AND g::date BETWEEN DATE '{WINDOW_FROM}' AND DATE '{WINDOW_TO}';
                 -- Trips abroad and to Hong Kong, Macau and Taiwan cross the border.
                 INSERT INTO demo_ev
                 SELECT t.owner, 'border_crossing', t.n, t.account_id, t.path, x.date, t.dest, x.direction, NULL
                 FROM demo_trips t
                 CROSS JOIN LATERAL (VALUES (t.depart_on, 'exit'), (t.return_on + t.late_days, 'entry')) x(date, direction)
                 WHERE t.travelled AND t.kind <> 'leave_jurisdiction' AND x.date <= DATE '{WINDOW_TO}';
                 -- In the problem quarter of the units, 1-3% of the staff left Beijing without filing.
                 CREATE TEMP TABLE demo_leavers ON COMMIT DROP AS
                 SELECT p.n, p.id, p.path, p.path[2] AS owner, x.h
                 FROM demo_people p JOIN demo_units u ON u.unit_no = p.unit_no
                 CROSS JOIN LATERAL (SELECT pg_temp.demo_h('leaver:' || p.n) AS h) x
                 WHERE u.problem AND p.position = 'staff' AND x.h % 1000 < u.leaver_percent * 10
                   AND NOT EXISTS (SELECT 1 FROM demo_trips t WHERE t.n = p.n);
                 INSERT INTO demo_ev
                 SELECT l.owner, 'itinerary', l.n, l.id, l.path, g::date,
                        CASE WHEN l.h / 100000 % 10 = 0 THEN ({countries})[1 + (l.h / 1000000 % {nc})::int]
                             ELSE ({mainland})[1 + (l.h / 1000000 % {nm})::int] END, NULL, NULL
                 FROM demo_leavers l
                 CROSS JOIN LATERAL generate_series(DATE '2026-05-01' + (l.h / 1000 % 3)::int,
                                                    DATE '2026-05-01' + (l.h / 1000 % 3)::int + (l.h / 10000 % 4)::int,
                                                    interval '1 day') g;
                 -- And a few were absent on a working day before the holiday without filing.
                 INSERT INTO demo_ev
                 SELECT p.path[2], 'attendance', p.n, p.id, p.path, DATE '2026-04-29' + (x.h / 1000 % 2)::int,
                        NULL, NULL, 'absent'
                 FROM demo_people p JOIN demo_units u ON u.unit_no = p.unit_no
                 CROSS JOIN LATERAL (SELECT pg_temp.demo_h('absent:' || p.n) AS h) x
                 WHERE u.problem AND p.position = 'staff' AND x.h % 1000 < 6
                   AND NOT EXISTS (SELECT 1 FROM demo_trips t WHERE t.n = p.n)
                   AND NOT EXISTS (SELECT 1 FROM demo_leavers l WHERE l.n = p.n);
                 -- The attendance register: present on each working day they were not away.
                 INSERT INTO demo_ev
                 SELECT p.path[least(2, cardinality(p.path))], 'attendance', p.n, p.id, p.path, d.day, NULL, NULL, 'present'
                 FROM demo_people p CROSS JOIN unnest({days}) AS d(day)
                 WHERE NOT EXISTS (SELECT 1 FROM demo_ev e
                                   WHERE e.n = p.n AND e.date = d.day AND e.source <> 'attendance');
                 CREATE INDEX ON demo_ev (owner, source);"
            ),
        )?;
        self.import_evidence()
    }

    fn summary(&mut self, district: Uuid) -> Result<DemoSummary, DemoError> {
        let conn = &mut *self.conn;
        let grouped = |conn: &mut PgConnection, query: &str| -> QueryResult<Vec<(String, i64)>> {
            diesel::sql_query(query)
                .load::<Grouped>(conn)
                .map(|rows| rows.into_iter().map(|r| (r.key, r.total)).collect())
        };
        let may_day_filings = grouped(
            conn,
            "SELECT status AS key, count(*) AS total FROM filings WHERE depart_on >= DATE '2026-04-28'
             GROUP BY status ORDER BY count(*) DESC, status",
        )?;
        let evidence = grouped(
            conn,
            "SELECT source AS key, count(*) AS total FROM evidence GROUP BY source ORDER BY source",
        )?;
        let units_by_policy = grouped(
            conn,
            "SELECT policy AS key, count(*) AS total FROM demo_units GROUP BY policy",
        )?;
        let policy = |name: &str| {
            units_by_policy
                .iter()
                .find(|(k, _)| k == name)
                .map_or(0, |(_, n)| *n)
        };
        let ranks = ["clerk", "section", "division", "bureau"].map(|rank| {
            count(
                conn,
                &format!("SELECT count(*) FROM demo_people WHERE rank = '{rank}'"),
            )
        });
        let [clerk, section, division, bureau] = ranks;
        let may_day: i64 = may_day_filings.iter().map(|(_, n)| n).sum();
        let filings = count(conn, "SELECT count(*) FROM filings")?;
        let first_filer: Option<String> = diesel::select(sql::<diesel::sql_types::Nullable<Text>>(
            "(SELECT a.login FROM demo_trips t JOIN accounts a ON a.id = t.account_id
              WHERE t.status = 'returned' AND t.position = 'staff' ORDER BY t.n LIMIT 1)",
        ))
        .get_result(conn)?;
        let approver: Option<String> = diesel::select(sql::<diesel::sql_types::Nullable<Text>>(
            "(SELECT a.login FROM demo_trips t JOIN accounts a ON a.id = t.head_id
              WHERE t.status = 'pending' AND t.current_step = 1 ORDER BY t.n LIMIT 1)",
        ))
        .get_result(conn)?;
        let unit7: String = diesel::select(sql::<Text>(
            "(SELECT name FROM demo_units WHERE unit_no = 7)",
        ))
        .get_result(conn)?;
        let mut logins = vec![
            ("demo-admin".to_owned(), "system administrator".to_owned()),
            (
                "demo-inspector".to_owned(),
                "inspector over the whole district".to_owned(),
            ),
            (
                "demo-inspector-7".to_owned(),
                format!("inspector over u-007 {unit7}"),
            ),
            (
                "u-admin-001".to_owned(),
                "unit admin of u-001 (u-admin-001 … u-admin-133)".to_owned(),
            ),
            ("u00001".to_owned(), "the district's principal".to_owned()),
        ];
        if let Some(login) = approver {
            logins.push((
                login,
                "a department head with a pending approval".to_owned(),
            ));
        }
        if let Some(login) = first_filer {
            logins.push((login, "a cadre with a May Day trip".to_owned()));
        }
        Ok(DemoSummary {
            district_id: district,
            units: count(conn, "SELECT count(*) FROM units WHERE kind = 'unit'")?,
            subunits: count(conn, "SELECT count(*) FROM units WHERE kind = 'subunit'")?,
            departments: count(conn, "SELECT count(*) FROM units WHERE kind = 'department'")?,
            accounts: count(conn, "SELECT count(*) FROM accounts")?,
            cadres: count(conn, "SELECT count(*) FROM demo_people")?,
            ranks: [clerk?, section?, division?, bureau?],
            deputies: count(conn, "SELECT count(*) FROM unit_deputies")?,
            role_grants: count(conn, "SELECT count(*) FROM role_grants")?,
            policies: PolicyCounts {
                complete: policy("complete"),
                incomplete: policy("incomplete"),
                none: policy("none"),
                not_extended: policy("not_extended"),
                rows: count(conn, "SELECT count(*) FROM policies")?,
            },
            special_periods: count(conn, "SELECT count(*) FROM special_periods")?,
            may_day_filings,
            historical_filings: filings - may_day,
            refused: self.refused,
            filings,
            filing_steps: count(conn, "SELECT count(*) FROM filing_steps")?,
            filing_events: count(conn, "SELECT count(*) FROM filing_events")?,
            evidence_imports: count(conn, "SELECT count(*) FROM evidence_imports")?,
            evidence,
            problem_units: count(conn, "SELECT count(*) FROM demo_units WHERE problem")?,
            unreported: count(conn, "SELECT count(*) FROM demo_leavers")?,
            unreported_units: count(conn, "SELECT count(DISTINCT owner) FROM demo_leavers")?,
            logins,
            password: self.options.password.clone(),
            seconds: 0.0,
        })
    }
}

#[derive(QueryableByName)]
struct Grouped {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    total: i64,
}

/// The trip draft of a staged trip row `t`, shaped like API.md's.
fn draft_sql(t: &str, late: &str) -> String {
    format!(
        "jsonb_strip_nulls(jsonb_build_object(
           'kind', {t}.kind, 'purpose', {t}.purpose,
           'reason', CASE {t}.purpose WHEN 'visit_relatives' THEN '探望父母' WHEN 'tourism' THEN '假期旅游'
                                      WHEN 'medical' THEN '陪同家人就医' WHEN 'personal_affairs' THEN '处理家庭事务'
                                      ELSE '参加亲属婚礼' END,
           'destinations', jsonb_build_array(jsonb_build_object('code', {t}.dest)),
           'depart_on', {t}.depart_on, 'return_on', {t}.return_on,
           'contact_phone', {t}.mobile, 'substitute_id', {t}.substitute_id,
           'companions', CASE WHEN {t}.purpose = 'tourism' THEN '配偶、子女' END,
           'late_reason', CASE WHEN {late} THEN '临时决定出行，出发后补报。' END))"
    )
}
