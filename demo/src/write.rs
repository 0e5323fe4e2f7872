//! The district written as the server writes it: through the store's
//! functions and the core, each change at its own moment.

use super::{CREATED, DemoError, Generator, draft_sql, logged};
use chrono::{DateTime, Duration, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Integer, Jsonb, Nullable, Text, Timestamptz};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;
use whereabouts_api::audit::Entries;
use whereabouts_api::config::Config;
use whereabouts_api::error::ApiError;
use whereabouts_api::extract::{AppState, IfMatch, Principal};
use whereabouts_api::store;
use whereabouts_api::store::accounts::{AccountInsertForm, RoleGrantBody};
use whereabouts_api::store::evidence::{Batch, EvidenceRecordInput, Imported};
use whereabouts_api::store::filings::Created;
use whereabouts_api::store::transitions::{self, Asked, Payload};
use whereabouts_api::store::units::{Leaders, NewUnit};
use whereabouts_api::tx::Tx;
use whereabouts_core::lifecycle::Action;
use whereabouts_core::reconcile::EvidenceSource;
use whereabouts_core::{Lang, Role, TripDraft, UnitDeputy};

/// A May Day trip as planned: who files what when, and what becomes of it.
#[derive(QueryableByName)]
pub(super) struct Trip {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    filing_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    account_id: Uuid,
    #[diesel(sql_type = Jsonb)]
    draft: Value,
    #[diesel(sql_type = Nullable<Text>)]
    requirement: Option<String>,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Timestamptz)]
    submitted_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    step1_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    approved_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    departed_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    returned_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    cancelled_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Integer)]
    late_days: i32,
}

/// Why a department head turns a May Day trip down.
const REJECTION: &str = "假期值班安排冲突，请调整行程。";

/// A store function's refusal: the demo's plan and the server disagree.
pub(super) fn api(error: ApiError) -> DemoError {
    DemoError::Inconsistent(format!("the store refused: {error:?}"))
}

impl Generator<'_> {
    /// Each planned node through the store, parents first, as an
    /// administrator creates them; dated in the demo's past.
    pub(super) fn write_units(&mut self) -> Result<(), DemoError> {
        #[derive(QueryableByName)]
        struct Node {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            id: Uuid,
            #[diesel(sql_type = Text)]
            code: String,
            #[diesel(sql_type = Text)]
            name: String,
            #[diesel(sql_type = Text)]
            kind: String,
            #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
            parent_id: Option<Uuid>,
            #[diesel(sql_type = Array<diesel::sql_types::Uuid>)]
            path: Vec<Uuid>,
        }
        let started = Instant::now();
        let nodes: Vec<Node> = diesel::sql_query(
            "SELECT id, code, name, kind, parent_id, path FROM demo_nodes ORDER BY level, code",
        )
        .load(self.conn)?;
        for node in &nodes {
            let unit = NewUnit {
                id: node.id,
                code: &node.code,
                name: &node.name,
                kind: &node.kind,
                parent_id: node.parent_id,
                path: node.path.clone(),
            };
            store::units::insert(self.conn, unit).map_err(api)?;
        }
        logged("units, through the store", nodes.len(), started);
        self.exec(
            "units dated",
            &format!("UPDATE units SET created_at = {CREATED}, updated_at = {CREATED}"),
        )
    }

    /// Each planned account through the store, as an administrator or an
    /// import creates them; dated in the demo's past.
    pub(super) fn write_accounts(&mut self) -> Result<(), DemoError> {
        #[derive(QueryableByName)]
        struct Planned {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            id: Uuid,
            #[diesel(sql_type = Text)]
            login: String,
            #[diesel(sql_type = Text)]
            display_name: String,
            #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
            unit_id: Option<Uuid>,
            #[diesel(sql_type = Nullable<Text>)]
            employee_no: Option<String>,
            #[diesel(sql_type = Nullable<Text>)]
            mobile: Option<String>,
            #[diesel(sql_type = Text)]
            rank: String,
            #[diesel(sql_type = Text)]
            position: String,
            #[diesel(sql_type = Bool)]
            party_member: bool,
            #[diesel(sql_type = Bool)]
            public_official: bool,
            #[diesel(sql_type = Bool)]
            key_post: bool,
        }
        let started = Instant::now();
        let planned: Vec<Planned> = diesel::sql_query(
            "SELECT id, login, display_name, unit_id, employee_no, mobile, rank, position,
                    party_member, public_official, key_post
             FROM demo_accounts ORDER BY login",
        )
        .load(self.conn)?;
        let mut forms = Vec::with_capacity(planned.len());
        for account in &planned {
            let issues = store::accounts::check_fields(
                Some(&account.login),
                Some(&account.display_name),
                account.employee_no.as_deref(),
                account.mobile.as_deref(),
                None,
            );
            if !issues.is_empty() {
                return Err(DemoError::Inconsistent(format!(
                    "account {}: {issues:?}",
                    account.login
                )));
            }
            forms.push(AccountInsertForm {
                id: account.id,
                login: &account.login,
                display_name: &account.display_name,
                unit_id: account.unit_id,
                employee_no: account.employee_no.as_deref(),
                mobile: account.mobile.as_deref(),
                rank: &account.rank,
                position: &account.position,
                party_member: account.party_member,
                public_official: account.public_official,
                key_post: account.key_post,
                password_hash: self.password_hash,
            });
        }
        for batch in forms.chunks(5_000) {
            store::accounts::insert(self.conn, batch).map_err(api)?;
        }
        logged("accounts, through the store", planned.len(), started);
        self.exec(
            "accounts dated",
            &format!(
                "UPDATE accounts SET credentials_changed_at = {CREATED}, created_at = {CREATED},
                                     updated_at = {CREATED}"
            ),
        )
    }

    /// The administrators' and inspectors' roles, through the store.
    pub(super) fn write_grants(&mut self) -> Result<(), DemoError> {
        #[derive(QueryableByName)]
        struct Granted {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            account_id: Uuid,
            #[diesel(sql_type = Text)]
            role: String,
            #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
            unit_id: Option<Uuid>,
        }
        let grants: Vec<Granted> = diesel::sql_query(
            "SELECT md5('demo:admin')::uuid AS account_id, 'system_admin' AS role, NULL::uuid AS unit_id
             UNION ALL SELECT md5('demo:inspector')::uuid, 'inspector', md5('demo:district')::uuid
             UNION ALL SELECT md5('demo:inspector-7')::uuid, 'inspector', md5('demo:unit:7')::uuid
             UNION ALL SELECT * FROM (SELECT md5('demo:unit-admin:' || unit_no)::uuid, 'unit_admin', id
                                      FROM demo_units ORDER BY unit_no) u",
        )
        .load(self.conn)?;
        for grant in grants {
            let role: Role = serde_json::from_value(Value::String(grant.role))
                .map_err(|e| DemoError::Inconsistent(format!("a role: {e}")))?;
            let body = RoleGrantBody {
                role,
                unit_id: grant.unit_id,
            };
            let grants = store::accounts::checked_grants(vec![body]).map_err(api)?;
            store::accounts::set_roles(self.conn, grant.account_id, &grants)?;
        }
        self.exec(
            "grants dated",
            &format!("UPDATE role_grants SET created_at = {CREATED}"),
        )
    }

    /// Every node's principal and deputies, through the store's checks and
    /// writes, as an administrator sets them.
    pub(super) fn write_leaders(&mut self) -> Result<(), DemoError> {
        #[derive(QueryableByName)]
        struct Post {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            unit_id: Uuid,
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            account_id: Uuid,
            #[diesel(sql_type = Integer)]
            ordinal: i32,
            #[diesel(sql_type = Array<diesel::sql_types::Uuid>)]
            in_charge_of: Vec<Uuid>,
        }
        let started = Instant::now();
        // The principal as ordinal -1, then the deputies in order.
        let posts: Vec<Post> = diesel::sql_query(
            "SELECT node_id AS unit_id, id AS account_id, -1 AS ordinal, '{}'::uuid[] AS in_charge_of
             FROM demo_people WHERE ord = 0
             UNION ALL SELECT unit_id, account_id, ordinal, in_charge_of FROM demo_deputies
             ORDER BY unit_id, ordinal",
        )
        .load(self.conn)?;
        let mut leaders: Vec<(Uuid, Leaders)> = Vec::new();
        for post in posts {
            if leaders.last().is_none_or(|(unit, _)| *unit != post.unit_id) {
                leaders.push((
                    post.unit_id,
                    Leaders {
                        principal_id: None,
                        deputies: Vec::new(),
                    },
                ));
            }
            let Some((_, of)) = leaders.last_mut() else {
                continue;
            };
            if post.ordinal < 0 {
                of.principal_id = Some(post.account_id);
            } else {
                of.deputies.push(UnitDeputy {
                    account_id: post.account_id,
                    in_charge_of: post.in_charge_of,
                });
            }
        }
        for (unit, of) in &leaders {
            let current = store::units::lock(self.conn, *unit).map_err(api)?;
            store::units::check_leaders(self.conn, *unit, of).map_err(api)?;
            store::units::set_leaders(self.conn, &current, of)?;
        }
        logged("leadership, through the store", leaders.len(), started);
        self.exec(
            "leadership dated",
            &format!("UPDATE units SET updated_at = {CREATED}"),
        )
    }

    /// The server at `now`: the store's functions read the clock from it.
    pub(super) fn at(&self, now: DateTime<Utc>) -> AppState {
        let mut state = self.state.clone();
        state.config = Arc::new(Config {
            fixed_now: Some(now),
            ..(*self.state.config).clone()
        });
        state
    }

    /// The caller `account` as the server would load it.
    pub(super) fn principal(&mut self, account: Uuid) -> Result<Principal, DemoError> {
        if let Some(known) = self.principals.get(&account) {
            return Ok(known.clone());
        }
        let unit_id = store::accounts::unit_of(self.conn, account).map_err(api)?;
        let grants = store::accounts::grants(self.conn, account).map_err(api)?;
        let principal = Principal {
            account_id: account,
            session_id: Uuid::nil(),
            unit_id,
            grants,
        };
        self.principals.insert(account, principal.clone());
        Ok(principal)
    }

    /// Files each May Day trip as its filer would, through the store and the
    /// core, at the moment the plan says, and takes it through the steps the
    /// plan gives it: its approvers' decisions, a withdrawal or cancellation,
    /// departure and return, each at its own moment.
    pub(super) fn file_may_day(&mut self) -> Result<(), DemoError> {
        let started = Instant::now();
        let trips: Vec<Trip> = diesel::sql_query(format!(
            "SELECT t.filing_id, t.account_id, {draft} AS draft, t.requirement, t.status, t.submitted_at,
                    t.step1_at, t.approved_at, t.departed_at, t.returned_at, t.cancelled_at, t.late_days
             FROM demo_trips t ORDER BY t.submitted_at, t.filing_id",
            draft = draft_sql("t", "t.submitted_at >= t.depart_start"),
        ))
        .load(self.conn)?;
        for trip in &trips {
            self.file_trip(trip)?;
        }
        tracing::info!(
            step = "may day filings, through the store",
            trips = trips.len(),
            ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "demo"
        );
        Ok(())
    }

    pub(super) fn file_trip(&mut self, trip: &Trip) -> Result<(), DemoError> {
        let draft: TripDraft = serde_json::from_value(trip.draft.clone())
            .map_err(|e| DemoError::Inconsistent(format!("a demo draft: {e}")))?;
        let state = self.at(trip.submitted_at);
        let mut tx = Tx {
            conn: &mut *self.conn,
            audit: Entries::default(),
        };
        let created = Created {
            id: trip.filing_id,
            account_id: trip.account_id,
            draft: &draft,
            submit: true,
            lang: Lang::ZhCn,
        };
        let (row, steps) = store::filings::create(&mut tx, &state, created).map_err(api)?;
        let Tx { conn, audit } = tx;
        audit.write(conn).map_err(api)?;
        if row.requirement != trip.requirement {
            return Err(DemoError::Inconsistent(format!(
                "filing {} is {:?} filed, {:?} planned",
                trip.filing_id, row.requirement, trip.requirement
            )));
        }
        let approver = |step: usize| {
            steps
                .get(step)
                .and_then(|s| s.candidates.first().copied())
                .ok_or_else(|| {
                    DemoError::Inconsistent(format!("filing {} has no step {step}", trip.filing_id))
                })
        };
        let filer = trip.account_id;
        let mut moves: Vec<(DateTime<Utc>, Uuid, Action, Payload)> = Vec::new();
        match trip.status.as_str() {
            "rejected" => moves.push((
                trip.submitted_at + Duration::hours(3),
                approver(0)?,
                Action::Reject,
                Payload::Comment(Some(REJECTION.to_owned())),
            )),
            "withdrawn" => moves.push((
                trip.submitted_at + Duration::hours(5),
                filer,
                Action::Withdraw,
                Payload::None,
            )),
            _ => {}
        }
        if let Some(at) = trip.step1_at {
            moves.push((at, approver(0)?, Action::Approve, Payload::Comment(None)));
        }
        if let Some(at) = trip.approved_at {
            moves.push((at, approver(1)?, Action::Approve, Payload::Comment(None)));
        }
        if let Some(at) = trip.cancelled_at {
            moves.push((at, filer, Action::Cancel, Payload::None));
        }
        if let Some(at) = trip.departed_at {
            moves.push((at, filer, Action::Depart, Payload::None));
        }
        if let Some(at) = trip.returned_at {
            let report = if trip.late_days > 0 {
                "因交通原因推迟返京。"
            } else {
                "已按期返京，行程顺利。"
            };
            moves.push((
                at,
                filer,
                Action::Return,
                Payload::Return(Some(report.to_owned())),
            ));
        }
        for (at, actor, action, payload) in moves {
            let who = self.principal(actor)?;
            let state = self.at(at);
            let mut tx = Tx {
                conn: &mut *self.conn,
                audit: Entries::default(),
            };
            let asked = Asked {
                id: trip.filing_id,
                if_match: IfMatch(None),
                lang: Lang::ZhCn,
                action,
                payload,
            };
            transitions::apply(&mut tx, &state, &who, asked).map_err(|e| {
                DemoError::Inconsistent(format!(
                    "filing {}: {action:?} at {at} refused: {e:?}",
                    trip.filing_id
                ))
            })?;
            let Tx { conn, audit } = tx;
            audit.write(conn).map_err(api)?;
        }
        Ok(())
    }

    /// The planned evidence, one import per unit and source, through the
    /// store's checks and import as the district's administrator uploads it;
    /// dated the day after the evidence window.
    pub(super) fn import_evidence(&mut self) -> Result<(), DemoError> {
        #[derive(QueryableByName)]
        struct Import {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            id: Uuid,
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            owner: Uuid,
            #[diesel(sql_type = Text)]
            code: String,
            #[diesel(sql_type = Text)]
            source: String,
        }
        #[derive(QueryableByName)]
        struct Record {
            #[diesel(sql_type = Nullable<Text>)]
            employee_no: Option<String>,
            #[diesel(sql_type = Text)]
            date: String,
            #[diesel(sql_type = Nullable<Text>)]
            location_code: Option<String>,
            #[diesel(sql_type = Nullable<Text>)]
            direction: Option<String>,
            #[diesel(sql_type = Nullable<Text>)]
            status: Option<String>,
        }
        let started = Instant::now();
        let imports: Vec<Import> = diesel::sql_query(
            "SELECT md5('demo:import:' || e.owner || ':' || e.source)::uuid AS id, e.owner, nd.code, e.source
             FROM (SELECT DISTINCT owner, source FROM demo_ev) e JOIN demo_nodes nd ON nd.id = e.owner
             ORDER BY nd.code, e.source",
        )
        .load(self.conn)?;
        let admin: Uuid = diesel::select(sql::<diesel::sql_types::Uuid>("md5('demo:admin')::uuid"))
            .get_result(self.conn)?;
        let who = self.principal(admin)?;
        let mut rows = 0;
        for import in &imports {
            let records: Vec<Record> = diesel::sql_query(
                "SELECT a.employee_no, e.date::text AS date, e.location_code, e.direction, e.status
                 FROM demo_ev e JOIN accounts a ON a.id = e.account_id
                 WHERE e.owner = $1 AND e.source = $2
                 ORDER BY e.n, e.date, e.direction DESC",
            )
            .bind::<diesel::sql_types::Uuid, _>(import.owner)
            .bind::<Text, _>(&import.source)
            .load(self.conn)?;
            rows += records.len();
            let numbered = records
                .into_iter()
                .zip(1..)
                .map(|(r, row)| {
                    let input = EvidenceRecordInput {
                        employee_no: r.employee_no,
                        login: None,
                        date: Some(r.date),
                        location_code: r.location_code,
                        direction: r.direction,
                        status: r.status,
                    };
                    (row, Ok(input))
                })
                .collect();
            let source: EvidenceSource =
                serde_json::from_value(Value::String(import.source.clone()))
                    .map_err(|e| DemoError::Inconsistent(format!("an evidence source: {e}")))?;
            let key = format!("demo-2026-05-{}-{}", import.source, import.code);
            let mut batch = Batch::checked(
                key,
                import.owner,
                source,
                (None, None),
                numbered,
                Lang::ZhCn,
            )
            .map_err(api)?;
            batch.id = import.id;
            if !batch.rejected.is_empty() {
                return Err(DemoError::Inconsistent(format!(
                    "import {} refuses rows: {:?}",
                    import.code, batch.rejected
                )));
            }
            let mut tx = Tx {
                conn: &mut *self.conn,
                audit: Entries::default(),
            };
            let imported =
                store::evidence::import(&mut tx, &who, batch, Lang::ZhCn).map_err(api)?;
            let Tx { conn, audit } = tx;
            audit.write(conn).map_err(api)?;
            if let Imported::New(result) = imported
                && !result.rejected.is_empty()
            {
                return Err(DemoError::Inconsistent(format!(
                    "import {} names unknown people: {:?}",
                    import.code, result.rejected
                )));
            }
        }
        logged("evidence, through the store", rows, started);
        self.exec(
            "evidence dated",
            "UPDATE evidence_imports SET created_at = TIMESTAMPTZ '2026-05-08 10:00:00+08'",
        )
    }
}
