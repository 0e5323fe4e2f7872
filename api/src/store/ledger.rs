//! The ledger as stored and as exported: its filters as SQL over `filings`
//! with the derived flags of [`FlagSql`](crate::store::flags::FlagSql), its
//! rows and counts, and the headings and cells of its CSV and XLSX exports.

use crate::error::ApiError;
use crate::schema::units;
use crate::store::enums::{enum_name, parse_enum};
use crate::store::flags::FlagSql;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{
    Array, BigInt, Bool, Date, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use whereabouts_core::{FilingStatus, IssueCode, Lang, Position, Rank, Requirement, TripKind};

/// Rows fetched per round trip while exporting.
pub const EXPORT_BATCH: i64 = 2_000;

/// Which filings the ledger shows.
#[derive(Debug, Clone, Deserialize, IntoParams)]
pub struct LedgerParams {
    /// A subtree (default: the caller's whole scope).
    pub unit_id: Option<Uuid>,
    /// Trips overlapping this window: returning on or after `from`.
    pub from: Option<NaiveDate>,
    /// … and departing on or before `to`.
    pub to: Option<NaiveDate>,
    /// Only this status.
    pub status: Option<FilingStatus>,
    /// Only this kind of trip.
    pub kind: Option<TripKind>,
    /// Only filers of this rank.
    pub rank: Option<Rank>,
    /// Only late filings (or only on-time ones with `false`).
    pub late: Option<bool>,
    /// Only overdue ones.
    pub overdue: Option<bool>,
    /// Only those departed before approval.
    pub departed_before_approval: Option<bool>,
}

/// One filing in the ledger.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LedgerEntry {
    /// The filing.
    pub filing_id: Uuid,
    /// The filer.
    pub account_id: Uuid,
    /// Their name.
    pub display_name: String,
    /// Their employee number.
    pub employee_no: Option<String>,
    /// Their rank.
    pub rank: Rank,
    /// Their position.
    pub position: Position,
    /// Their node.
    pub unit_id: Uuid,
    /// Its name.
    pub unit_name: String,
    /// The filing's status.
    pub status: FilingStatus,
    /// The kind of trip.
    pub kind: Option<TripKind>,
    /// Destination codes.
    pub destinations: Vec<String>,
    /// Planned departure.
    pub depart_on: Option<NaiveDate>,
    /// Planned return (with approved extensions).
    pub return_on: Option<NaiveDate>,
    /// What the assessment required (none for a draft).
    pub requirement: Option<Requirement>,
    /// Submitted.
    pub submitted_at: Option<DateTime<Utc>>,
    /// Approved.
    pub approved_at: Option<DateTime<Utc>>,
    /// Departure reported.
    pub departed_at: Option<DateTime<Utc>>,
    /// Return reported.
    pub returned_at: Option<DateTime<Utc>>,
    /// Filed after its deadline.
    pub late: bool,
    /// Still away past the return (with grace).
    pub overdue: bool,
    /// Left before the approval.
    pub departed_before_approval: bool,
}

/// How many filings match, in all and by flag and status.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct LedgerCounts {
    /// Every matching filing.
    pub total: i64,
    /// Late ones.
    pub late: i64,
    /// Overdue ones.
    pub overdue: i64,
    /// Departed before approval.
    pub departed_before_approval: i64,
    /// By status.
    pub by_status: BTreeMap<String, i64>,
}

/// A ledger row as read.
#[derive(QueryableByName)]
pub struct Row {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub account_id: Uuid,
    #[diesel(sql_type = Text)]
    pub display_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub employee_no: Option<String>,
    #[diesel(sql_type = Text)]
    pub rank: String,
    #[diesel(sql_type = Text)]
    pub position: String,
    #[diesel(sql_type = SqlUuid)]
    pub unit_id: Uuid,
    #[diesel(sql_type = Text)]
    pub unit_name: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub kind: Option<String>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    pub destinations: Option<serde_json::Value>,
    #[diesel(sql_type = Nullable<Date>)]
    pub depart_on: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Date>)]
    pub return_on: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Text>)]
    pub requirement: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub submitted_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub approved_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub departed_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub returned_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Bool)]
    pub late: bool,
    #[diesel(sql_type = Bool)]
    pub overdue: bool,
    #[diesel(sql_type = Bool)]
    pub departed_before_approval: bool,
}

/// The counts of one status as read.
#[derive(QueryableByName)]
pub struct CountRow {
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = BigInt)]
    pub total: i64,
    #[diesel(sql_type = BigInt)]
    pub late: i64,
    #[diesel(sql_type = BigInt)]
    pub overdue: i64,
    #[diesel(sql_type = BigInt)]
    pub departed_before_approval: i64,
}

impl Row {
    /// The row as answered.
    pub fn entry(self) -> Result<LedgerEntry, ApiError> {
        let destinations = self
            .destinations
            .and_then(|d| d.as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|d| d.get("code").and_then(|c| c.as_str()).map(str::to_owned))
            .collect();
        Ok(LedgerEntry {
            filing_id: self.id,
            account_id: self.account_id,
            display_name: self.display_name,
            employee_no: self.employee_no,
            rank: parse_enum(&self.rank)?,
            position: parse_enum(&self.position)?,
            unit_id: self.unit_id,
            unit_name: self.unit_name,
            status: parse_enum(&self.status)?,
            kind: self.kind.as_deref().map(parse_enum).transpose()?,
            destinations,
            depart_on: self.depart_on,
            return_on: self.return_on,
            requirement: self.requirement.as_deref().map(parse_enum).transpose()?,
            submitted_at: self.submitted_at,
            approved_at: self.approved_at,
            departed_at: self.departed_at,
            returned_at: self.returned_at,
            late: self.late,
            overdue: self.overdue,
            departed_before_approval: self.departed_before_approval,
        })
    }
}

/// One bound value of the WHERE clause.
pub enum Bind {
    Uuids(Vec<Uuid>),
    Date(NaiveDate),
    Text(String),
    Uuid(Uuid),
}

/// The WHERE clause of a ledger query and its values.
pub struct Filter {
    pub clauses: Vec<String>,
    pub binds: Vec<Bind>,
}

impl Filter {
    fn push(&mut self, clause: impl Fn(usize) -> String, bind: Bind) {
        self.binds.push(bind);
        self.clauses.push(clause(self.binds.len()));
    }

    fn sql(&self) -> String {
        self.clauses.join(" AND ")
    }

    fn bound(
        &self,
        sql: String,
    ) -> diesel::query_builder::BoxedSqlQuery<
        'static,
        diesel::pg::Pg,
        diesel::query_builder::SqlQuery,
    > {
        let mut query = diesel::sql_query(sql).into_boxed();
        for bind in &self.binds {
            query = match bind {
                Bind::Uuids(v) => query.bind::<Array<SqlUuid>, _>(v.clone()),
                Bind::Date(d) => query.bind::<Date, _>(*d),
                Bind::Text(t) => query.bind::<Text, _>(t.clone()),
                Bind::Uuid(u) => query.bind::<SqlUuid, _>(*u),
            };
        }
        query
    }
}

/// Every node in the subtrees of `roots`, by the tree's path index.
pub fn nodes_under(conn: &mut PgConnection, roots: Vec<Uuid>) -> Result<Vec<Uuid>, ApiError> {
    Ok(units::table
        .filter(diesel::dsl::sql::<Bool>("units.path && ").bind::<Array<SqlUuid>, _>(roots))
        .select(units::id)
        .load::<Uuid>(conn)?)
}

/// The filter: `scope` is every node the caller may read here (`None`: all).
pub fn build_filter(params: &LedgerParams, scope: Option<Vec<Uuid>>, flags: &FlagSql) -> Filter {
    let mut f = Filter {
        clauses: vec!["f.status <> 'draft'".to_owned()],
        binds: Vec::new(),
    };
    if let Some(nodes) = scope {
        f.push(|n| format!("f.unit_id = ANY(${n})"), Bind::Uuids(nodes));
    }
    // Trips overlapping the window. The departure's lower bound (the window's
    // start less the longest trip on record) lets counting read the window
    // index alone.
    const LONGEST: &str = "(SELECT coalesce(max(l.return_on - l.depart_on), 0) FROM filings l WHERE l.status <> 'draft')";
    if let Some(to) = params.to {
        f.push(|n| format!("f.depart_on <= ${n}"), Bind::Date(to));
    }
    if let Some(from) = params.from {
        f.push(|n| format!("f.return_on >= ${n}"), Bind::Date(from));
        f.push(
            |n| format!("f.depart_on >= ${n}::date - {LONGEST}"),
            Bind::Date(from),
        );
    }
    if let Some(status) = params.status {
        f.push(
            |n| format!("f.status = ${n}"),
            Bind::Text(status.as_str().to_owned()),
        );
    }
    if let Some(kind) = params.kind {
        f.push(
            |n| format!("f.kind = ${n}"),
            Bind::Text(kind.as_str().to_owned()),
        );
    }
    if let Some(rank) = params.rank {
        f.push(
            |n| format!("a.rank = ${n}"),
            Bind::Text(rank.as_str().to_owned()),
        );
    }
    for (wanted, sql) in [
        (params.late, &flags.late),
        (params.overdue, &flags.overdue),
        (
            params.departed_before_approval,
            &flags.departed_before_approval,
        ),
    ] {
        if let Some(wanted) = wanted {
            f.clauses.push(if wanted {
                sql.clone()
            } else {
                format!("NOT {sql}")
            });
        }
    }
    f
}

/// The SELECT of ledger rows under `filter` and `extra`, latest departure
/// first, at most `limit`.
pub fn select_sql(flags: &FlagSql, filter: &str, extra: &str, limit: i64) -> String {
    format!(
        "SELECT f.id, f.account_id, a.display_name, a.employee_no, a.rank, a.position, f.unit_id, u.name AS unit_name,
                f.status, f.kind, f.draft -> 'destinations' AS destinations, f.depart_on, f.return_on, f.requirement,
                f.submitted_at, f.approved_at, f.departed_at, f.returned_at,
                {} AS late, {} AS overdue, {} AS departed_before_approval
         FROM filings f JOIN accounts a ON a.id = f.account_id JOIN units u ON u.id = f.unit_id
         WHERE {filter}{extra}
         ORDER BY f.depart_on DESC NULLS LAST, f.id DESC
         LIMIT {limit}",
        flags.late, flags.overdue, flags.departed_before_approval
    )
}

/// A page's keyset condition after the row `(depart_on, id)`.
pub fn after_clause(filter: &mut Filter, day: NaiveDate, id: Uuid) -> String {
    filter.binds.push(Bind::Date(day));
    let d = filter.binds.len();
    filter.binds.push(Bind::Uuid(id));
    let i = filter.binds.len();
    format!(" AND (f.depart_on, f.id) < (${d}, ${i})")
}

/// The keyset position (departure day, id) a cursor names.
pub fn parse_cursor(after: &str) -> Result<(NaiveDate, Uuid), ApiError> {
    after
        .split_once('|')
        .and_then(|(d, id)| Some((d.parse().ok()?, id.parse().ok()?)))
        .ok_or_else(|| ApiError::invalid(IssueCode::Invalid, "cursor", json!({})))
}

/// Column headings, in zh-CN or en.
pub fn headings(lang: Lang) -> [&'static str; 20] {
    [
        lang.pick("申报编号", "filing_id"),
        lang.pick("姓名", "name"),
        lang.pick("工号", "employee_no"),
        lang.pick("职级", "rank"),
        lang.pick("职务", "position"),
        lang.pick("单位", "unit"),
        lang.pick("状态", "status"),
        lang.pick("类型", "kind"),
        lang.pick("目的地", "destinations"),
        lang.pick("出发日期", "depart_on"),
        lang.pick("返回日期", "return_on"),
        lang.pick("要求", "requirement"),
        lang.pick("提交时间", "submitted_at"),
        lang.pick("批准时间", "approved_at"),
        lang.pick("出发时间", "departed_at"),
        lang.pick("返回时间", "returned_at"),
        lang.pick("迟报", "late"),
        lang.pick("逾期未归", "overdue"),
        lang.pick("未批先行", "departed_before_approval"),
        lang.pick("人员编号", "account_id"),
    ]
}

/// An entry's cells, in the order of [`headings`].
pub fn cells(e: &LedgerEntry, lang: Lang) -> [String; 20] {
    let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    let yes = |b: bool| {
        lang.pick(if b { "是" } else { "否" }, if b { "yes" } else { "no" })
            .to_owned()
    };
    [
        e.filing_id.to_string(),
        e.display_name.clone(),
        e.employee_no.clone().unwrap_or_default(),
        e.rank.as_str().to_owned(),
        e.position.as_str().to_owned(),
        e.unit_name.clone(),
        e.status.as_str().to_owned(),
        e.kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
        e.destinations.join(" "),
        date(e.depart_on),
        date(e.return_on),
        e.requirement.as_ref().map(enum_name).unwrap_or_default(),
        time(e.submitted_at),
        time(e.approved_at),
        time(e.departed_at),
        time(e.returned_at),
        yes(e.late),
        yes(e.overdue),
        yes(e.departed_before_approval),
        e.account_id.to_string(),
    ]
}

/// Loads the next batch of an export after a keyset position.
pub fn batch(
    conn: &mut PgConnection,
    filter: &Filter,
    flags: &FlagSql,
    after: Option<(NaiveDate, Uuid)>,
) -> Result<Vec<LedgerEntry>, ApiError> {
    let mut filter = Filter {
        clauses: filter.clauses.clone(),
        binds: filter
            .binds
            .iter()
            .map(|b| match b {
                Bind::Uuids(v) => Bind::Uuids(v.clone()),
                Bind::Date(d) => Bind::Date(*d),
                Bind::Text(t) => Bind::Text(t.clone()),
                Bind::Uuid(u) => Bind::Uuid(*u),
            })
            .collect(),
    };
    let extra = match after {
        Some((day, id)) => after_clause(&mut filter, day, id),
        None => String::new(),
    };
    // Filings without dates are drafts, which the ledger never shows; the
    // keyset walks by departure day and id.
    let sql = select_sql(flags, &filter.sql(), &extra, EXPORT_BATCH);
    let rows: Vec<Row> = filter.bound(sql).load(conn)?;
    rows.into_iter().map(Row::entry).collect()
}

/// The keyset position after the last of `entries`.
pub fn position_of(entries: &[LedgerEntry]) -> Option<(NaiveDate, Uuid)> {
    entries
        .last()
        .and_then(|e| e.depart_on.map(|d| (d, e.filing_id)))
}

/// Rows written as CSV.
pub fn csv_bytes(rows: &[[String; 20]]) -> Result<Vec<u8>, ApiError> {
    let mut writer = crate::csv_safe::Writer::from_writer(Vec::new());
    for row in rows {
        writer
            .write_record(row)
            .map_err(ApiError::internal("writing a CSV row"))?;
    }
    writer
        .into_inner()
        .map_err(ApiError::internal("finishing the CSV export"))
}

/// The counts of the filings `filter` keeps, over every page; `with_rank`
/// when the filter names the filer's rank, which needs `accounts`.
pub fn counts(
    conn: &mut PgConnection,
    filter: &Filter,
    flags: &FlagSql,
    with_rank: bool,
) -> Result<LedgerCounts, ApiError> {
    let counts_sql = format!(
        "SELECT f.status, count(*) AS total,
                    count(*) FILTER (WHERE {}) AS late,
                    count(*) FILTER (WHERE {}) AS overdue,
                    count(*) FILTER (WHERE {}) AS departed_before_approval
             FROM filings f{}
             WHERE {} GROUP BY f.status",
        flags.late,
        flags.overdue,
        flags.departed_before_approval,
        // The filer's rank is the only column counts need from accounts.
        if with_rank {
            " JOIN accounts a ON a.id = f.account_id"
        } else {
            ""
        },
        filter.sql()
    );
    let rows: Vec<CountRow> = filter.bound(counts_sql).load(conn)?;
    let mut counts = LedgerCounts::default();
    for r in rows {
        counts.total += r.total;
        counts.late += r.late;
        counts.overdue += r.overdue;
        counts.departed_before_approval += r.departed_before_approval;
        counts.by_status.insert(r.status, r.total);
    }
    Ok(counts)
}

/// Up to `limit` rows `filter` keeps after the keyset position `after`
/// (departure day, id), latest departure first.
pub fn page(
    conn: &mut PgConnection,
    mut filter: Filter,
    flags: &FlagSql,
    after: Option<(NaiveDate, Uuid)>,
    limit: i64,
) -> QueryResult<Vec<Row>> {
    let extra = match after {
        Some((day, id)) => after_clause(&mut filter, day, id),
        None => String::new(),
    };
    let sql = select_sql(flags, &filter.sql(), &extra, limit);
    filter.bound(sql).load(conn)
}
