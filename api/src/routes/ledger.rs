//! The ledger: filings across a unit subtree, filtered by window, status,
//! kind, rank and the derived flags, page by page with counts, or exported
//! whole as CSV or XLSX (streamed, so memory stays flat however many rows).
//! CSV cells that would begin a formula are neutralised (`crate::csv_safe`);
//! XLSX cells are written as strings, which spreadsheets never run.

use crate::error::ApiError;
use crate::extract::{AppState, Principal, RequestLang};
use crate::page::{PageParams, cursor_after};
use crate::policy::{self, Action};
use crate::schema::units;
use crate::store::enums::{enum_name, parse_enum};
use crate::store::flags::FlagSql;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{
    Array, BigInt, Bool, Date, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use tokio::sync::OwnedSemaphorePermit;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use whereabouts_core::{FilingStatus, IssueCode, Lang, Position, Rank, Requirement, TripKind};

/// Rows fetched per round trip while exporting.
const EXPORT_BATCH: i64 = 2_000;
/// The most rows one XLSX export writes (a worksheet holds 1,048,576).
const XLSX_MAX_ROWS: usize = 1_000_000;

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

/// How `listLedger` answers, for clients written before the export operations.
#[derive(Debug, Clone, Deserialize, IntoParams)]
pub struct LedgerFormatParams {
    /// `json` (the default) answers a page. `csv` and `xlsx` answer the same
    /// download as `exportLedgerCsv` and `exportLedgerXlsx`, which new clients
    /// call instead: leave this unset in a generated client.
    #[param(value_type = Option<LedgerFormat>)]
    pub format: Option<String>,
}

/// What `listLedger` answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LedgerFormat {
    /// A page of JSON.
    Json,
    /// Every matching row as CSV.
    Csv,
    /// Every matching row as an XLSX workbook.
    Xlsx,
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

/// A page of the ledger.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LedgerPage {
    /// Filings, latest departure first.
    pub items: Vec<LedgerEntry>,
    /// Counts over every page.
    pub counts: LedgerCounts,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    account_id: Uuid,
    #[diesel(sql_type = Text)]
    display_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    employee_no: Option<String>,
    #[diesel(sql_type = Text)]
    rank: String,
    #[diesel(sql_type = Text)]
    position: String,
    #[diesel(sql_type = SqlUuid)]
    unit_id: Uuid,
    #[diesel(sql_type = Text)]
    unit_name: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Text>)]
    kind: Option<String>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    destinations: Option<serde_json::Value>,
    #[diesel(sql_type = Nullable<Date>)]
    depart_on: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Date>)]
    return_on: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Text>)]
    requirement: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    submitted_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    approved_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    departed_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    returned_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Bool)]
    late: bool,
    #[diesel(sql_type = Bool)]
    overdue: bool,
    #[diesel(sql_type = Bool)]
    departed_before_approval: bool,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = BigInt)]
    late: i64,
    #[diesel(sql_type = BigInt)]
    overdue: i64,
    #[diesel(sql_type = BigInt)]
    departed_before_approval: i64,
}

impl Row {
    fn entry(self) -> Result<LedgerEntry, ApiError> {
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
enum Bind {
    Uuids(Vec<Uuid>),
    Date(NaiveDate),
    Text(String),
    Uuid(Uuid),
}

/// The WHERE clause of a ledger query and its values.
struct Filter {
    clauses: Vec<String>,
    binds: Vec<Bind>,
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

/// The filter: `scope` is every node the caller may read here (`None`: all).
fn build_filter(params: &LedgerParams, scope: Option<Vec<Uuid>>, flags: &FlagSql) -> Filter {
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

fn select_sql(flags: &FlagSql, filter: &str, extra: &str, limit: i64) -> String {
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
fn after_clause(filter: &mut Filter, day: NaiveDate, id: Uuid) -> String {
    filter.binds.push(Bind::Date(day));
    let d = filter.binds.len();
    filter.binds.push(Bind::Uuid(id));
    let i = filter.binds.len();
    format!(" AND (f.depart_on, f.id) < (${d}, ${i})")
}

fn parse_cursor(after: &str) -> Result<(NaiveDate, Uuid), ApiError> {
    after
        .split_once('|')
        .and_then(|(d, id)| Some((d.parse().ok()?, id.parse().ok()?)))
        .ok_or_else(|| ApiError::invalid(IssueCode::Invalid, "cursor", json!({})))
}

fn check(params: &LedgerParams) -> Result<(), ApiError> {
    crate::input::dates_in_range([("from", params.from), ("to", params.to)])?;
    if let (Some(from), Some(to)) = (params.from, params.to)
        && to < from
    {
        return Err(ApiError::invalid(
            IssueCode::ReturnBeforeDeparture,
            "to",
            json!({}),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Xlsx,
}

fn format_of(params: &LedgerFormatParams, req: &HttpRequest) -> Result<Format, ApiError> {
    match params.format.as_deref() {
        Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some("xlsx") => Ok(Format::Xlsx),
        Some(_) => Err(ApiError::invalid(
            IssueCode::Invalid,
            "format",
            json!({"allowed": ["json", "csv", "xlsx"]}),
        )),
        None => {
            let accept = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_ascii_lowercase();
            Ok(if accept.contains("text/csv") {
                Format::Csv
            } else if accept.contains("spreadsheetml") {
                Format::Xlsx
            } else {
                Format::Json
            })
        }
    }
}

/// The filings a ledger request selects, checked against the caller's scope:
/// the filter over the nodes in scope, and the SQL of the derived flags.
async fn select(
    state: &web::Data<AppState>,
    who: Principal,
    params: &LedgerParams,
) -> Result<(Filter, FlagSql), ApiError> {
    policy::require(&who, Action::Supervise)?;
    check(params)?;
    // The nodes in scope, by the tree's path index: filings are then matched
    // by their node, which the window index carries.
    let roots = match params.unit_id {
        Some(unit) => Some(vec![unit]),
        None => policy::scope(&who, Action::Supervise).roots(),
    };
    let unit = params.unit_id;
    let nodes = state
        .db
        .run(move |conn| {
            if let Some(unit) = unit {
                policy::authorize(conn, &who, Action::Supervise, unit)?;
            }
            match roots {
                None => Ok(None),
                Some(roots) => Ok(Some(
                    units::table
                        .filter(
                            diesel::dsl::sql::<Bool>("units.path && ")
                                .bind::<Array<SqlUuid>, _>(roots),
                        )
                        .select(units::id)
                        .load::<Uuid>(conn)?,
                )),
            }
        })
        .await?;
    let flags = FlagSql::new(&state.config);
    let filter = build_filter(params, nodes, &flags);
    Ok((filter, flags))
}

/// Page through the ledger of filings across a subtree
///
/// System administrators, unit admins and inspectors, over their scope (403
/// `forbidden` to callers holding none of these roles); `unit_id` narrows it
/// to a node's subtree (404 `not_found` for a node unknown or outside the
/// caller's scope). Filters: trips overlapping `from`..`to`, `status`, `kind`,
/// the filer's `rank`, and the derived flags `late`, `overdue` and
/// `departed_before_approval`. Each entry carries the filer, the trip and the
/// flags; `counts` covers every matching filing, not only this page. Latest
/// departure first; one page per call, as `{items, counts, next_cursor}`:
/// pass `next_cursor` back as `cursor` for the next page.
///
/// To download every matching row at once, call `exportLedgerCsv` or
/// `exportLedgerXlsx` with the same filters. (The deprecated `format`
/// parameter, or an `Accept` header asking for `text/csv` or the XLSX media
/// type, makes this operation answer the same download, for older clients.)
#[utoipa::path(get, path = "/api/v1/ledger", operation_id = "listLedger", tag = "supervision", params(LedgerParams, LedgerFormatParams, PageParams),
    responses(
        (status = 200, description = "A page of the ledger (or, with the deprecated `format`, the export)", content(
            (LedgerPage = "application/json"),
            (String = "text/csv"),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )),
        (status = 401), (status = 403), (status = 404), (status = 422),
        (status = 429, description = "An export while every heavy-read slot of the server is taken (`rate_limited`); retry after `Retry-After` seconds")),
    security(("bearer" = [])))]
pub async fn ledger(
    state: web::Data<AppState>,
    who: Principal,
    lang: RequestLang,
    req: HttpRequest,
    params: web::Query<LedgerParams>,
    format: web::Query<LedgerFormatParams>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let format = format_of(&format, &req)?;
    let limit = page.limit()?;
    let after = page.after()?.map(|a| parse_cursor(&a)).transpose()?;
    let (filter, flags) = select(&state, who, &params).await?;
    match format {
        Format::Csv => {
            let slot = state.heavy.admit()?;
            return Ok(export_csv(state, slot, filter, flags, lang.0));
        }
        Format::Xlsx => {
            let slot = state.heavy.admit()?;
            return export_xlsx(state, slot, filter, flags, lang.0).await;
        }
        Format::Json => {}
    }

    let page = state
        .db
        .run(move |conn| {
            let mut filter = filter;
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
                if params.rank.is_some() {
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
            let extra = match after {
                Some((day, id)) => after_clause(&mut filter, day, id),
                None => String::new(),
            };
            let sql = select_sql(&flags, &filter.sql(), &extra, limit + 1);
            let mut rows: Vec<Row> = filter.bound(sql).load(conn)?;
            let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
            rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            let next_cursor = if more {
                rows.last()
                    .and_then(|r| r.depart_on.map(|d| cursor_after(&format!("{d}|{}", r.id))))
            } else {
                None
            };
            let items = rows.into_iter().map(Row::entry).collect::<Result<_, _>>()?;
            Ok(LedgerPage {
                items,
                counts,
                next_cursor,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Export the ledger as CSV
///
/// Readers as for `listLedger`: system administrators, unit admins and
/// inspectors over their scope (403 `forbidden` to callers holding none of
/// these roles; 404 `not_found` for a `unit_id` outside it). Every filing the
/// ledger's filters select, as CSV with a header row. The headings are in
/// zh-CN unless the request asks for English (`Accept-Language: en`). The
/// body is streamed as it is read; cells that would start a spreadsheet
/// formula are prefixed with `'`. An export holds one of the server's
/// heavy-read slots while it streams: with every slot taken it answers 429
/// `rate_limited` with `Retry-After`.
#[utoipa::path(get, path = "/api/v1/ledger/export.csv", operation_id = "exportLedgerCsv", tag = "supervision", params(LedgerParams),
    responses(
        (status = 200, description = "The ledger as CSV, headings first", content_type = "text/csv", body = Vec<u8>),
        (status = 401), (status = 403), (status = 404), (status = 422),
        (status = 429, description = "Every heavy-read slot of the server is taken (`rate_limited`); retry after `Retry-After` seconds")),
    security(("bearer" = [])))]
pub async fn export_ledger_csv(
    state: web::Data<AppState>,
    who: Principal,
    lang: RequestLang,
    params: web::Query<LedgerParams>,
) -> Result<HttpResponse, ApiError> {
    let (filter, flags) = select(&state, who, &params).await?;
    let slot = state.heavy.admit()?;
    Ok(export_csv(state, slot, filter, flags, lang.0))
}

/// Export the ledger as an XLSX workbook
///
/// Readers as for `listLedger`: system administrators, unit admins and
/// inspectors over their scope (403 `forbidden` to callers holding none of
/// these roles; 404 `not_found` for a `unit_id` outside it). Every filing the
/// ledger's filters select, as a workbook of one sheet. The headings are in
/// zh-CN unless the request asks for English (`Accept-Language: en`). One
/// export writes at most 1,000,000 rows; more answer 413
/// `payload_too_large`: narrow the filters. An export holds one of the
/// server's heavy-read slots while it runs: with every slot taken it answers
/// 429 `rate_limited` with `Retry-After`.
#[utoipa::path(get, path = "/api/v1/ledger/export.xlsx", operation_id = "exportLedgerXlsx", tag = "supervision", params(LedgerParams),
    responses(
        (status = 200, description = "The ledger as an XLSX workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 401), (status = 403), (status = 404), (status = 422),
        (status = 429, description = "Every heavy-read slot of the server is taken (`rate_limited`); retry after `Retry-After` seconds")),
    security(("bearer" = [])))]
pub async fn export_ledger_xlsx(
    state: web::Data<AppState>,
    who: Principal,
    lang: RequestLang,
    params: web::Query<LedgerParams>,
) -> Result<HttpResponse, ApiError> {
    let (filter, flags) = select(&state, who, &params).await?;
    let slot = state.heavy.admit()?;
    export_xlsx(state, slot, filter, flags, lang.0).await
}

/// Column headings, in zh-CN or en.
fn headings(lang: Lang) -> [&'static str; 20] {
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

fn cells(e: &LedgerEntry, lang: Lang) -> [String; 20] {
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
fn batch(
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

fn position_of(entries: &[LedgerEntry]) -> Option<(NaiveDate, Uuid)> {
    entries
        .last()
        .and_then(|e| e.depart_on.map(|d| (d, e.filing_id)))
}

fn csv_bytes(rows: &[[String; 20]]) -> Result<Vec<u8>, ApiError> {
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

/// Streams the CSV: a batch is read only when the client has taken the last.
/// The heavy-read slot is held until the stream ends or is dropped.
fn export_csv(
    state: web::Data<AppState>,
    slot: OwnedSemaphorePermit,
    filter: Filter,
    flags: FlagSql,
    lang: Lang,
) -> HttpResponse {
    let shared = std::sync::Arc::new((filter, flags));
    let head = match csv_bytes(&[headings(lang).map(str::to_owned)]) {
        Ok(mut h) => {
            // A byte order mark, so spreadsheet programs read the UTF-8.
            let mut bom = "\u{feff}".as_bytes().to_vec();
            bom.append(&mut h);
            bom
        }
        Err(_) => Vec::new(),
    };
    enum Step {
        Head,
        After(Option<(NaiveDate, Uuid)>),
        Done,
    }
    let stream = futures_util::stream::unfold(Step::Head, move |step| {
        let state = state.clone();
        let shared = shared.clone();
        let head = head.clone();
        async move {
            match step {
                Step::Done => None,
                Step::Head => Some((Ok::<_, ApiError>(web::Bytes::from(head)), Step::After(None))),
                Step::After(after) => {
                    let loaded = state
                        .heavy
                        .db
                        .run(move |conn| batch(conn, &shared.0, &shared.1, after))
                        .await;
                    match loaded {
                        Err(e) => {
                            tracing::error!(error = %e, "a ledger export stopped");
                            Some((Err(e), Step::Done))
                        }
                        Ok(entries) if entries.is_empty() => None,
                        Ok(entries) => {
                            let next = if entries.len()
                                < usize::try_from(EXPORT_BATCH).unwrap_or(usize::MAX)
                            {
                                Step::Done
                            } else {
                                Step::After(position_of(&entries))
                            };
                            let rows: Vec<[String; 20]> =
                                entries.iter().map(|e| cells(e, lang)).collect();
                            Some((csv_bytes(&rows).map(web::Bytes::from), next))
                        }
                    }
                }
            }
        }
    })
    .map(move |chunk| {
        let _held = &slot;
        chunk
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"ledger.csv\"",
        ))
        .streaming(stream)
}

/// Writes the XLSX in constant memory to a temporary file, then streams it.
/// The heavy-read slot is held until the file has been sent or abandoned.
async fn export_xlsx(
    state: web::Data<AppState>,
    slot: OwnedSemaphorePermit,
    filter: Filter,
    flags: FlagSql,
    lang: Lang,
) -> Result<HttpResponse, ApiError> {
    let path = std::env::temp_dir().join(format!("whereabouts-ledger-{}.xlsx", Uuid::new_v4()));
    let target = path.clone();
    let db = state.heavy.db.clone();
    web::block(move || -> Result<(), ApiError> {
        let mut conn = db.get().map_err(|_| ApiError::Unavailable)?;
        let mut workbook = rust_xlsxwriter::Workbook::new();
        let sheet = workbook.add_worksheet_with_constant_memory();
        for (col, title) in headings(lang).iter().enumerate() {
            sheet
                .write_string(
                    0,
                    u16::try_from(col)
                        .map_err(ApiError::internal("numbering a spreadsheet column"))?,
                    *title,
                )
                .map_err(ApiError::internal("writing a spreadsheet heading"))?;
        }
        let mut row: u32 = 1;
        let mut after = None;
        loop {
            let entries = batch(&mut conn, &filter, &flags, after)?;
            for e in &entries {
                for (col, value) in cells(e, lang).iter().enumerate() {
                    sheet
                        .write_string(
                            row,
                            u16::try_from(col)
                                .map_err(ApiError::internal("numbering a spreadsheet column"))?,
                            value,
                        )
                        .map_err(ApiError::internal("writing a spreadsheet cell"))?;
                }
                row += 1;
                if usize::try_from(row).unwrap_or(usize::MAX) > XLSX_MAX_ROWS {
                    return Err(ApiError::PayloadTooLarge);
                }
            }
            if entries.len() < usize::try_from(EXPORT_BATCH).unwrap_or(usize::MAX) {
                break;
            }
            after = position_of(&entries);
        }
        workbook
            .save(&target)
            .map_err(ApiError::internal("saving the spreadsheet"))?;
        Ok(())
    })
    .await
    .map_err(ApiError::internal("running the spreadsheet export"))??;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(ApiError::internal("opening the spreadsheet file"))?;
    // The file is unlinked at once; the open handle keeps it readable.
    let _ = tokio::fs::remove_file(&path).await;
    let stream = futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(web::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    })
    .map(move |chunk| {
        let _held = &slot;
        chunk
    });
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"ledger.xlsx\"",
        ))
        .streaming(stream))
}
