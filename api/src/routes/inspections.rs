//! Inspection campaigns: inspectors open one over a subtree and a window; the
//! report shows, per unit, who is covered, what was filed and how late, who
//! left without reporting, and whether the unit's rules exist, are complete
//! and reach its second-level units. Findings per unit record the category
//! and the measures taken; rectification items carry deadlines, evidence and
//! a look-back review, and are flagged when overdue.

use crate::error::ApiError;
use crate::extract::{AppState, IfMatch, Json, Principal, etag};
use crate::page::{PageParams, paginate};
use crate::policy::{self, Action};
use crate::schema::{inspection_findings, inspections, rectifications, units};
use crate::store::enums::{enum_name, parse_enum};
use crate::store::flags::FlagSql;
use crate::store::policies::{CoverageSource, UnitCoverage, subtree_coverage};
use crate::tx::Claim;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Date, Text, Uuid as SqlUuid};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use utoipa::ToSchema;
use uuid::Uuid;
use whereabouts_core::{IssueCode, Rank, UnitKind};

/// A campaign to open.
#[derive(Debug, Deserialize, ToSchema)]
pub struct InspectionInput {
    /// Its name, 1 to 200 characters.
    pub name: String,
    /// The subtree inspected.
    pub unit_id: Uuid,
    /// First day of the window.
    pub from: NaiveDate,
    /// Last day, inclusive (at most 366 days after `from`).
    pub to: NaiveDate,
}

/// An inspection campaign over a unit subtree and a window of days.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Inspection {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// The subtree inspected.
    pub unit_id: Uuid,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// Who opened it.
    pub opened_by: Uuid,
    /// Version, also the `ETag`.
    pub version: i32,
    /// Opened.
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = inspections)]
struct InspectionRow {
    id: Uuid,
    name: String,
    unit_id: Uuid,
    from_on: NaiveDate,
    to_on: NaiveDate,
    opened_by: Uuid,
    version: i32,
    created_at: DateTime<Utc>,
}

impl From<InspectionRow> for Inspection {
    fn from(r: InspectionRow) -> Self {
        Inspection {
            id: r.id,
            name: r.name,
            unit_id: r.unit_id,
            from: r.from_on,
            to: r.to_on,
            opened_by: r.opened_by,
            version: r.version,
            created_at: r.created_at,
        }
    }
}

fn load(conn: &mut PgConnection, id: Uuid) -> Result<Inspection, ApiError> {
    Ok(inspections::table
        .find(id)
        .select(InspectionRow::as_select())
        .first(conn)?
        .into())
}

/// Loads a campaign the caller may read (`Supervise` over its subtree), or 404.
fn readable(conn: &mut PgConnection, who: &Principal, id: Uuid) -> Result<Inspection, ApiError> {
    policy::require(who, Action::Supervise)?;
    let inspection = load(conn, id)?;
    policy::authorize(conn, who, Action::Supervise, inspection.unit_id)?;
    Ok(inspection)
}

/// Open an inspection campaign over a subtree and a window
///
/// System administrators and inspectors whose scope holds `unit_id` (403
/// `forbidden` to callers holding neither role; 404 `not_found` for a node
/// unknown or outside their scope). `name` is 1 to 200 characters and `to`
/// on or after `from`, at most 366 days later (422 `validation_failed`
/// otherwise). The campaign's report (`getInspectionReport`) is computed over
/// the subtree and window each time it is read; findings and rectification
/// items are recorded under it. Answers 201 with the campaign and its `ETag`.
#[utoipa::path(post, path = "/api/v1/inspections", operation_id = "createInspection", tag = "inspections",
    request_body(content = InspectionInput, example = json!({
        "name": "2027年五一节后离京报备专项检查",
        "unit_id": "c15ed824-83c3-4b5f-8324-14c74a2d077f",
        "from": "2027-04-30",
        "to": "2027-05-05"
    })),
    responses((status = 201, body = Inspection, description = "The new campaign, with its `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    who: Principal,
    body: Json<InspectionInput>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    policy::require(&who, Action::Inspect)?;
    crate::input::dates_in_range([("from", Some(input.from)), ("to", Some(input.to))])?;
    let name = input.name.trim().to_owned();
    let mut issues: Vec<whereabouts_core::Issue> = crate::input::name_issue("name", &name, 200)
        .into_iter()
        .collect();
    if input.to < input.from {
        issues.push(whereabouts_core::Issue::new(
            IssueCode::ReturnBeforeDeparture,
            Some("to".into()),
            json!({}),
        ));
    } else if (input.to - input.from).num_days() > 366 {
        issues.push(whereabouts_core::Issue::new(
            IssueCode::OutOfRange,
            Some("to".into()),
            json!({"min": 0, "max": 366}),
        ));
    }
    if !issues.is_empty() {
        return Err(ApiError::Validation(issues));
    }
    let created = state
        .db
        .transaction(claim, move |tx| {
            let conn = &mut *tx.conn;
            policy::authorize(conn, &who, Action::Inspect, input.unit_id)?;
            let id = Uuid::new_v4();
            diesel::insert_into(inspections::table)
                .values((
                    inspections::id.eq(id),
                    inspections::name.eq(&name),
                    inspections::unit_id.eq(input.unit_id),
                    inspections::from_on.eq(input.from),
                    inspections::to_on.eq(input.to),
                    inspections::opened_by.eq(who.account_id),
                ))
                .execute(conn)?;
            let inspection = load(conn, id)?;
            tx.audit.record(
                Some(who.account_id),
                "inspection",
                Some(id),
                "create",
                crate::audit::state(&inspection),
            );
            Ok(inspection)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("ETag", etag(created.version)))
        .json(created))
}

/// Read an inspection campaign
///
/// System administrators, unit admins and inspectors whose scope holds the
/// campaign's subtree (403 `forbidden` to callers holding none of these
/// roles; 404 `not_found` for a campaign unknown or outside their scope).
/// Answers the campaign with its `ETag`.
#[utoipa::path(get, path = "/api/v1/inspections/{id}", operation_id = "getInspection", tag = "inspections", params(("id" = Uuid, Path)),
    responses((status = 200, body = Inspection, description = "The campaign, with its `ETag`"), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let inspection = state.db.run(move |conn| readable(conn, &who, id)).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(inspection.version)))
        .json(inspection))
}

crate::page_schema!(
/// A page of campaigns.
    InspectionPage,
    Inspection,
    "Campaigns, in descending order of their ids.",
    "Pass as `cursor` for the next page; absent on the last."
);

/// List the inspection campaigns in the caller's scope
///
/// System administrators, unit admins and inspectors: the campaigns over
/// nodes in their scope (403 `forbidden` to callers holding none of these
/// roles). One page per call, as `{items, next_cursor}`, in descending order
/// of the campaigns' ids (not by date): pass `next_cursor` back as `cursor`
/// for the next page.
#[utoipa::path(get, path = "/api/v1/inspections", operation_id = "listInspections", tag = "inspections", params(PageParams),
    responses((status = 200, body = InspectionPage, description = "A page of campaigns"), (status = 401), (status = 403), (status = 422)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    who: Principal,
    params: web::Query<PageParams>,
) -> Result<web::Json<InspectionPage>, ApiError> {
    policy::require(&who, Action::Supervise)?;
    let limit = params.limit()?;
    let after = params.after()?;
    let page = state
        .db
        .run(move |conn| {
            let mut query = inspections::table
                .inner_join(units::table)
                .select(InspectionRow::as_select())
                .into_boxed();
            if let Some(roots) = policy::scope(&who, Action::Supervise).roots() {
                query =
                    query.filter(sql::<Bool>("units.path && ").bind::<Array<SqlUuid>, _>(roots));
            }
            if let Some(after) = after {
                let id: Uuid = after
                    .parse()
                    .map_err(|_| ApiError::invalid(IssueCode::Invalid, "cursor", json!({})))?;
                query = query.filter(inspections::id.lt(id));
            }
            let rows: Vec<InspectionRow> = query
                .order(inspections::id.desc())
                .limit(limit + 1)
                .load(conn)?;
            let (rows, next_cursor) = paginate(rows, limit, |r| r.id.to_string());
            Ok(InspectionPage {
                items: rows.into_iter().map(Inspection::from).collect(),
                next_cursor,
            })
        })
        .await?;
    Ok(web::Json(page))
}

/// How a unit is covered by rules.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyStanding {
    /// `own`, `inherited` or `none`.
    pub source: CoverageSource,
    /// The unit whose policy applies.
    pub source_unit_id: Option<Uuid>,
    /// Its name.
    pub source_unit_name: Option<String>,
    /// That policy's version.
    pub version: Option<i32>,
    /// Every rank × position × trip kind × period has a complete rule.
    pub complete: bool,
    /// Combinations without a complete rule.
    pub missing_count: usize,
    /// Second-level units below it (kind `subunit`) whose rules are missing or incomplete.
    pub second_level_uncovered: usize,
}

/// What a campaign report finds wrong with a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnitProblem {
    /// No policy covers the unit.
    NoRules,
    /// Its policy leaves some member and trip without a complete rule.
    IncompleteRules,
    /// A second-level unit below it has no complete policy.
    NotExtended,
    /// Someone of the unit has an open or confirmed discrepancy in the window.
    UnreportedPeople,
    /// It has late filings in the window.
    LateFilings,
}

/// One unit of the report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UnitReport {
    /// The unit (or second-level unit, or the subtree's root).
    pub unit_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: UnitKind,
    /// Its parent.
    pub parent_id: Option<Uuid>,
    /// Active members, counting its departments (not its second-level units).
    pub members: i64,
    /// Filings of the members whose trips overlap the window (drafts not counted).
    pub filings: i64,
    /// Of those, filed late.
    pub late_filings: i64,
    /// Members with an open or explained discrepancy in the window.
    pub people_with_open_discrepancies: i64,
    /// Members with a confirmed discrepancy in the window.
    pub people_with_confirmed_discrepancies: i64,
    /// The rules that apply.
    pub policy: PolicyStanding,
    /// What is wrong; empty when nothing is.
    pub problems: Vec<UnitProblem>,
    /// Findings recorded for it in this campaign.
    pub findings: i64,
    /// Of their rectification items, overdue.
    pub overdue_rectifications: i64,
}

/// The whole subtree at a glance.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportOverall {
    /// Units reported on.
    pub units: usize,
    /// Units with at least one problem.
    pub units_with_problems: usize,
    /// Their share, 0 to 1.
    pub share_with_problems: f64,
    /// Members covered.
    pub members: i64,
    /// Filings.
    pub filings: i64,
    /// Late filings.
    pub late_filings: i64,
    /// People with open or explained discrepancies.
    pub people_with_open_discrepancies: i64,
    /// People with confirmed discrepancies.
    pub people_with_confirmed_discrepancies: i64,
    /// People who left without reporting (an `unreported_departure` not explained), by rank.
    pub people_unreported_by_rank: BTreeMap<String, i64>,
}

/// The campaign's report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InspectionReport {
    /// The campaign.
    pub inspection: Inspection,
    /// When the report was computed.
    pub generated_at: DateTime<Utc>,
    /// The subtree at a glance.
    pub overall: ReportOverall,
    /// Per unit (every node but departments, which count in their unit), root first.
    pub units: Vec<UnitReport>,
}

#[derive(QueryableByName)]
struct CountBy {
    #[diesel(sql_type = SqlUuid)]
    unit_id: Uuid,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    late: i64,
}

#[derive(QueryableByName)]
struct PersonBy {
    #[diesel(sql_type = SqlUuid)]
    unit_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    account_id: Uuid,
    #[diesel(sql_type = Text)]
    rank: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    status: String,
}

#[derive(QueryableByName)]
struct FindingCount {
    #[diesel(sql_type = SqlUuid)]
    unit_id: Uuid,
    #[diesel(sql_type = BigInt)]
    findings: i64,
    #[diesel(sql_type = BigInt)]
    overdue: i64,
}

/// A node of the subtree: id, name, kind, parent, path.
type NodeRow = (Uuid, String, String, Option<Uuid>, Vec<Uuid>);

/// The report of a campaign.
pub fn report(
    conn: &mut PgConnection,
    state: &AppState,
    inspection: Inspection,
) -> Result<InspectionReport, ApiError> {
    let root = inspection.unit_id;
    let coverage = subtree_coverage(conn, root)?;
    // Every node reports into its nearest ancestor-or-self that is not a department.
    let nodes: Vec<NodeRow> = units::table
        .filter(sql::<Bool>("path @> ").bind::<Array<SqlUuid>, _>(vec![root]))
        .select((
            units::id,
            units::name,
            units::kind,
            units::parent_id,
            units::path,
        ))
        .load(conn)?;
    let kinds: HashMap<Uuid, &str> = nodes.iter().map(|n| (n.0, n.2.as_str())).collect();
    let mut names: HashMap<Uuid, String> = nodes.iter().map(|n| (n.0, n.1.clone())).collect();
    // Policies inherited from above the campaign's root are named too.
    let sources: Vec<Uuid> = coverage
        .items
        .iter()
        .filter_map(|c| c.covered_by)
        .filter(|u| !names.contains_key(u))
        .collect();
    if !sources.is_empty() {
        let above: Vec<(Uuid, String)> = units::table
            .filter(units::id.eq_any(&sources))
            .select((units::id, units::name))
            .load(conn)?;
        names.extend(above);
    }
    let mut report_unit: HashMap<Uuid, Uuid> = HashMap::new();
    for (id, _, _, _, path) in &nodes {
        let owner = path
            .iter()
            .rev()
            .find(|a| kinds.get(*a).is_some_and(|k| *k != "department"))
            .copied()
            .unwrap_or(root);
        report_unit.insert(*id, owner);
    }
    let members: Vec<CountBy> = diesel::sql_query(
        "SELECT a.unit_id, count(*) AS n, 0::bigint AS late FROM accounts a JOIN units u ON u.id = a.unit_id
         WHERE u.path @> $1 AND a.status = 'active' GROUP BY a.unit_id",
    )
    .bind::<Array<SqlUuid>, _>(vec![root])
    .load(conn)?;
    let flags = FlagSql::new(&state.config);
    let filings: Vec<CountBy> = diesel::sql_query(format!(
        "SELECT f.unit_id, count(*) AS n, count(*) FILTER (WHERE {}) AS late FROM filings f
         WHERE f.unit_path @> $1 AND f.status <> 'draft' AND f.depart_on <= $3 AND f.return_on >= $2
         GROUP BY f.unit_id",
        flags.late
    ))
    .bind::<Array<SqlUuid>, _>(vec![root])
    .bind::<Date, _>(inspection.from)
    .bind::<Date, _>(inspection.to)
    .load(conn)?;
    // A cleared discrepancy was explained and the explanation accepted: no
    // problem of the unit's, counted nowhere.
    let people: Vec<PersonBy> = diesel::sql_query(
        "SELECT DISTINCT d.unit_id, d.account_id, a.rank, d.kind, d.status FROM discrepancies d
         JOIN accounts a ON a.id = d.account_id
         WHERE d.unit_path @> $1 AND d.from_on <= $3 AND d.to_on >= $2 AND d.status <> 'cleared'",
    )
    .bind::<Array<SqlUuid>, _>(vec![root])
    .bind::<Date, _>(inspection.from)
    .bind::<Date, _>(inspection.to)
    .load(conn)?;
    let today = state
        .config
        .now()
        .with_timezone(&state.config.time_zone)
        .date_naive();
    let findings: Vec<FindingCount> = diesel::sql_query(
        "SELECT f.unit_id, count(DISTINCT f.id) AS findings,
                count(r.id) FILTER (WHERE r.status <> 'completed' AND r.deadline < $2) AS overdue
         FROM inspection_findings f LEFT JOIN rectifications r ON r.finding_id = f.id
         WHERE f.inspection_id = $1 GROUP BY f.unit_id",
    )
    .bind::<SqlUuid, _>(inspection.id)
    .bind::<Date, _>(today)
    .load(conn)?;

    let owner = |unit: &Uuid| report_unit.get(unit).copied().unwrap_or(root);
    let mut member_count: HashMap<Uuid, i64> = HashMap::new();
    for m in members {
        *member_count.entry(owner(&m.unit_id)).or_default() += m.n;
    }
    let mut filing_count: HashMap<Uuid, (i64, i64)> = HashMap::new();
    for f in filings {
        let entry = filing_count.entry(owner(&f.unit_id)).or_default();
        entry.0 += f.n;
        entry.1 += f.late;
    }
    let mut open_people: HashMap<Uuid, HashSet<Uuid>> = HashMap::new();
    let mut confirmed_people: HashMap<Uuid, HashSet<Uuid>> = HashMap::new();
    let mut unreported: HashMap<Uuid, String> = HashMap::new();
    for p in &people {
        let unit = owner(&p.unit_id);
        if p.status == "confirmed" {
            confirmed_people
                .entry(unit)
                .or_default()
                .insert(p.account_id);
        } else {
            open_people.entry(unit).or_default().insert(p.account_id);
        }
        if p.kind == "unreported_departure" && p.status != "explained" {
            unreported.insert(p.account_id, p.rank.clone());
        }
    }
    // Findings about a department count in its unit.
    let mut finding_count: HashMap<Uuid, (i64, i64)> = HashMap::new();
    for f in findings {
        let entry = finding_count.entry(owner(&f.unit_id)).or_default();
        entry.0 += f.findings;
        entry.1 += f.overdue;
    }

    let standing: HashMap<Uuid, &UnitCoverage> =
        coverage.items.iter().map(|c| (c.unit_id, c)).collect();
    let mut units_out = Vec::new();
    for item in coverage
        .items
        .iter()
        .filter(|c| c.unit_id == root || kinds.get(&c.unit_id).is_some_and(|k| *k != "department"))
    {
        let id = item.unit_id;
        // Second-level units directly under this one whose rules are missing or incomplete.
        let second_level_uncovered = nodes
            .iter()
            .filter(|n| n.3 == Some(id) && n.2 == "subunit")
            .filter(|n| standing.get(&n.0).is_none_or(|c| !c.complete))
            .count();
        let (filed, late) = filing_count.get(&id).copied().unwrap_or_default();
        let open = open_people.get(&id).map_or(0, HashSet::len);
        let confirmed = confirmed_people.get(&id).map_or(0, HashSet::len);
        let mut problems = Vec::new();
        match item.source {
            CoverageSource::None => problems.push(UnitProblem::NoRules),
            _ if !item.complete => problems.push(UnitProblem::IncompleteRules),
            _ => {}
        }
        if second_level_uncovered > 0 {
            problems.push(UnitProblem::NotExtended);
        }
        if open + confirmed > 0 {
            problems.push(UnitProblem::UnreportedPeople);
        }
        if late > 0 {
            problems.push(UnitProblem::LateFilings);
        }
        let (findings, overdue) = finding_count.get(&id).copied().unwrap_or_default();
        units_out.push(UnitReport {
            unit_id: id,
            name: item.name.clone(),
            kind: item.kind,
            parent_id: item.parent_id,
            members: member_count.get(&id).copied().unwrap_or_default(),
            filings: filed,
            late_filings: late,
            people_with_open_discrepancies: i64::try_from(open).unwrap_or(i64::MAX),
            people_with_confirmed_discrepancies: i64::try_from(confirmed).unwrap_or(i64::MAX),
            policy: PolicyStanding {
                source: item.source,
                source_unit_id: item.covered_by,
                source_unit_name: item
                    .covered_by
                    .and_then(|u| names.get(&u).map(|n| (*n).to_owned())),
                version: item.version,
                complete: item.complete,
                missing_count: item.missing_count,
                second_level_uncovered,
            },
            problems,
            findings,
            overdue_rectifications: overdue,
        });
    }
    let mut by_rank: BTreeMap<String, i64> = Rank::ALL
        .iter()
        .map(|r| (r.as_str().to_owned(), 0))
        .collect();
    for rank in unreported.values() {
        *by_rank.entry(rank.clone()).or_default() += 1;
    }
    let with_problems = units_out.iter().filter(|u| !u.problems.is_empty()).count();
    let distinct = |status_confirmed: bool| {
        let set: HashSet<Uuid> = people
            .iter()
            .filter(|p| (p.status == "confirmed") == status_confirmed)
            .map(|p| p.account_id)
            .collect();
        i64::try_from(set.len()).unwrap_or(i64::MAX)
    };
    let overall = ReportOverall {
        units: units_out.len(),
        units_with_problems: with_problems,
        share_with_problems: if units_out.is_empty() {
            0.0
        } else {
            with_problems as f64 / units_out.len() as f64
        },
        members: units_out.iter().map(|u| u.members).sum(),
        filings: units_out.iter().map(|u| u.filings).sum(),
        late_filings: units_out.iter().map(|u| u.late_filings).sum(),
        people_with_open_discrepancies: distinct(false),
        people_with_confirmed_discrepancies: distinct(true),
        people_unreported_by_rank: by_rank,
    };
    Ok(InspectionReport {
        inspection,
        generated_at: state.config.now(),
        overall,
        units: units_out,
    })
}

/// Compute an inspection campaign's report
///
/// System administrators, unit admins and inspectors whose scope holds the
/// campaign's subtree (403 `forbidden` to callers holding none of these
/// roles; 404 `not_found` for a campaign unknown or outside their scope).
///
/// Computed now over the campaign's subtree and window. Per unit (every node
/// but departments, which count in their unit; root first): its active
/// members, the filings whose trips overlap the window and how many were
/// late, the people with open or explained and with confirmed discrepancies
/// (a cleared one counts nowhere),
/// how its rules cover it (its own policy, inherited or none; complete or
/// not; second-level units left without complete rules), the findings
/// recorded about it and their overdue rectification items, and what is
/// wrong (`problems`). Overall: the share of units with problems, and the
/// people who left without reporting, by rank. A heavy read: with every
/// heavy-read slot of the server taken it answers 429 `rate_limited` with
/// `Retry-After`.
#[utoipa::path(get, path = "/api/v1/inspections/{id}/report", operation_id = "getInspectionReport", tag = "inspections", params(("id" = Uuid, Path)),
    responses((status = 200, body = InspectionReport, description = "The campaign's report, computed now"), (status = 401), (status = 403), (status = 404),
        (status = 429, description = "Every heavy-read slot of the server is taken (`rate_limited`); retry after `Retry-After` seconds")),
    security(("bearer" = [])))]
pub async fn get_report(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<web::Json<InspectionReport>, ApiError> {
    let id = id.into_inner();
    let inspection = state.db.run(move |conn| readable(conn, &who, id)).await?;
    // A heavy read: its own pool and slot, after the caller is known to may.
    let _slot = state.heavy.admit()?;
    let st = state.clone();
    let report = state
        .heavy
        .db
        .run(move |conn| report(conn, &st, inspection))
        .await?;
    Ok(web::Json(report))
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingCategory {
    /// The unit has no reporting rules.
    NoRules,
    /// Its rules leave cases open.
    IncompleteRules,
    /// Its rules do not reach its second-level units.
    NotExtended,
    /// Rules exist but are not applied.
    NotImplemented,
    /// Filings or records were falsified.
    Falsified,
}

/// What is done about a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Criticism and education.
    CriticismEducation,
    /// A reminder letter.
    ReminderLetter,
    /// A supervision proposal.
    SupervisionProposal,
    /// A special democratic life meeting.
    SpecialDemocraticLifeMeeting,
    /// Accountability.
    Accountability,
}

/// Where a rectification item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RectificationStatus {
    /// Not started.
    Open,
    /// Under way.
    InProgress,
    /// Done (with evidence).
    Completed,
}

/// A rectification item.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Rectification {
    /// Id.
    pub id: Uuid,
    /// The finding.
    pub finding_id: Uuid,
    /// What must change.
    pub description: String,
    /// By when.
    pub deadline: NaiveDate,
    /// Where it stands.
    pub status: RectificationStatus,
    /// What the unit shows for it.
    pub evidence: Option<String>,
    /// The look-back review date.
    pub review_on: Option<NaiveDate>,
    /// When it was completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Not completed and past its deadline.
    pub overdue: bool,
    /// Version, also the `ETag`.
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A finding about one unit, with its measures and rectification items.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Finding {
    /// Id.
    pub id: Uuid,
    /// The campaign.
    pub inspection_id: Uuid,
    /// The unit.
    pub unit_id: Uuid,
    /// What it is about.
    pub category: FindingCategory,
    /// What was found.
    pub description: String,
    /// What is done about it.
    pub measures: Vec<Measure>,
    /// The rectification items, by deadline.
    pub rectifications: Vec<Rectification>,
    /// Who recorded it.
    pub created_by: Uuid,
    /// Version, also the `ETag`.
    pub version: i32,
    /// Recorded.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = inspection_findings)]
struct FindingRow {
    id: Uuid,
    inspection_id: Uuid,
    unit_id: Uuid,
    category: String,
    description: String,
    measures: Vec<String>,
    created_by: Uuid,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = rectifications)]
struct RectificationRow {
    id: Uuid,
    finding_id: Uuid,
    description: String,
    deadline: NaiveDate,
    status: String,
    evidence: Option<String>,
    review_on: Option<NaiveDate>,
    completed_at: Option<DateTime<Utc>>,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn to_rectification(r: RectificationRow, today: NaiveDate) -> Result<Rectification, ApiError> {
    let status: RectificationStatus = parse_enum(&r.status)?;
    Ok(Rectification {
        id: r.id,
        finding_id: r.finding_id,
        description: r.description,
        deadline: r.deadline,
        overdue: status != RectificationStatus::Completed && r.deadline < today,
        status,
        evidence: r.evidence,
        review_on: r.review_on,
        completed_at: r.completed_at,
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

fn to_findings(
    conn: &mut PgConnection,
    state: &AppState,
    rows: Vec<FindingRow>,
) -> Result<Vec<Finding>, ApiError> {
    let today = state
        .config
        .now()
        .with_timezone(&state.config.time_zone)
        .date_naive();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let items: Vec<RectificationRow> = rectifications::table
        .filter(rectifications::finding_id.eq_any(&ids))
        .order((rectifications::deadline, rectifications::id))
        .select(RectificationRow::as_select())
        .load(conn)?;
    let mut by_finding: HashMap<Uuid, Vec<Rectification>> = HashMap::new();
    for item in items {
        by_finding
            .entry(item.finding_id)
            .or_default()
            .push(to_rectification(item, today)?);
    }
    rows.into_iter()
        .map(|r| {
            Ok(Finding {
                id: r.id,
                inspection_id: r.inspection_id,
                unit_id: r.unit_id,
                category: parse_enum(&r.category)?,
                description: r.description,
                measures: r
                    .measures
                    .iter()
                    .map(|m| parse_enum(m))
                    .collect::<Result<_, _>>()?,
                rectifications: by_finding.remove(&r.id).unwrap_or_default(),
                created_by: r.created_by,
                version: r.version,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
}

fn load_finding(
    conn: &mut PgConnection,
    state: &AppState,
    inspection: Uuid,
    id: Uuid,
) -> Result<Finding, ApiError> {
    let row: FindingRow = inspection_findings::table
        .find(id)
        .filter(inspection_findings::inspection_id.eq(inspection))
        .select(FindingRow::as_select())
        .first(conn)?;
    to_findings(conn, state, vec![row])?
        .pop()
        .ok_or_else(|| ApiError::broken("the finding just loaded"))
}

fn check_text(field: &str, text: &str, max: usize) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ApiError::invalid(IssueCode::Required, field, json!({})));
    }
    if text.chars().count() > max {
        return Err(ApiError::invalid(
            IssueCode::TooLong,
            field,
            json!({"max": max}),
        ));
    }
    Ok(text.to_owned())
}

/// A finding to record.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FindingInput {
    /// The unit it is about (inside the campaign's subtree).
    pub unit_id: Uuid,
    /// What it is about.
    pub category: FindingCategory,
    /// What was found, 1 to 4,000 characters.
    pub description: String,
    /// What is done about it.
    #[serde(default)]
    pub measures: Vec<Measure>,
}

/// Changes to a finding; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FindingPatch {
    /// What it is about.
    pub category: Option<FindingCategory>,
    /// What was found.
    pub description: Option<String>,
    /// What is done about it (replaces the list).
    pub measures: Option<Vec<Measure>>,
}

fn measures_of(measures: &[Measure]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in measures.iter().map(enum_name) {
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

/// Record a finding about a unit of a campaign
///
/// System administrators and inspectors whose scope holds the campaign's
/// subtree (403 `forbidden` to callers holding neither role; 404 `not_found`
/// for a campaign unknown or outside their scope).
/// `unit_id` must lie in the campaign's subtree (422 `validation_failed`
/// otherwise). `category` says what the finding is about (`no_rules`,
/// `incomplete_rules`, `not_extended` to second-level units,
/// `not_implemented`, `falsified`), `description` what was found (1 to 4,000
/// characters), and `measures` what is done about it
/// (`criticism_education`, `reminder_letter`, `supervision_proposal`,
/// `special_democratic_life_meeting`, `accountability`). Answers 201 with the
/// finding and its `ETag`.
#[utoipa::path(post, path = "/api/v1/inspections/{id}/findings", operation_id = "createFinding", tag = "inspections", params(("id" = Uuid, Path)),
    request_body(content = FindingInput, example = json!({
        "unit_id": "a34d5473-f579-4ed8-8487-9ffe8826b5f9",
        "category": "not_extended",
        "description": "区教育局的离京报备制度未延伸到所属学校，3所中学没有本单位的审批规定。",
        "measures": ["reminder_letter"]
    })),
    responses((status = 201, body = Finding, description = "The recorded finding, with its `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn create_finding(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    body: Json<FindingInput>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let input = body.0;
    policy::require(&who, Action::Inspect)?;
    let description = check_text("description", &input.description, 4000)?;
    let st = state.clone();
    let finding = state
        .db
        .transaction(claim, move |tx| {
            let conn = &mut *tx.conn;
            let inspection = load(conn, id)?;
            policy::authorize(conn, &who, Action::Inspect, inspection.unit_id)?;
            let path: Option<Vec<Uuid>> = units::table
                .find(input.unit_id)
                .select(units::path)
                .first(conn)
                .optional()?;
            if !path.is_some_and(|p| p.contains(&inspection.unit_id)) {
                return Err(ApiError::invalid(
                    IssueCode::OutOfRange,
                    "unit_id",
                    json!({"reason": "outside_the_campaign"}),
                ));
            }
            let finding_id = Uuid::new_v4();
            diesel::insert_into(inspection_findings::table)
                .values((
                    inspection_findings::id.eq(finding_id),
                    inspection_findings::inspection_id.eq(id),
                    inspection_findings::unit_id.eq(input.unit_id),
                    inspection_findings::category.eq(enum_name(&input.category)),
                    inspection_findings::description.eq(&description),
                    inspection_findings::measures.eq(measures_of(&input.measures)),
                    inspection_findings::created_by.eq(who.account_id),
                ))
                .execute(conn)?;
            let finding = load_finding(conn, &st, id, finding_id)?;
            tx.audit.record(
                Some(who.account_id),
                "finding",
                Some(finding_id),
                "create",
                crate::audit::state(&finding),
            );
            Ok(finding)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("ETag", etag(finding.version)))
        .json(finding))
}

/// Findings of a campaign.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FindingList {
    /// Findings, oldest first, each with its rectification items.
    pub items: Vec<Finding>,
}

/// List the findings of a campaign
///
/// System administrators, unit admins and inspectors whose scope holds the
/// campaign's subtree read every finding. A system administrator or unit
/// admin whose scope lies below it reads the findings about units in their
/// scope, to answer them with rectification; anyone else gets 404
/// `not_found`, and callers holding none of these roles 403 `forbidden`.
/// Oldest first, each with its rectification items by deadline; not paged.
#[utoipa::path(get, path = "/api/v1/inspections/{id}/findings", operation_id = "listFindings", tag = "inspections", params(("id" = Uuid, Path)),
    responses((status = 200, body = FindingList, description = "The findings the caller may read, oldest first"), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn list_findings(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<web::Json<FindingList>, ApiError> {
    let id = id.into_inner();
    policy::require(&who, Action::Supervise)?;
    let st = state.clone();
    let list = state
        .db
        .run(move |conn| {
            let inspection = load(conn, id)?;
            let rows: Vec<FindingRow> = inspection_findings::table
                .filter(inspection_findings::inspection_id.eq(id))
                .order((inspection_findings::created_at, inspection_findings::id))
                .select(FindingRow::as_select())
                .load(conn)?;
            let rows = if policy::covers(conn, &who, Action::Supervise, inspection.unit_id)? {
                rows
            } else {
                let mut mine = Vec::new();
                for row in rows {
                    if policy::covers(conn, &who, Action::Rectify, row.unit_id)? {
                        mine.push(row);
                    }
                }
                if mine.is_empty() {
                    return Err(ApiError::NotFound);
                }
                mine
            };
            Ok(FindingList {
                items: to_findings(conn, &st, rows)?,
            })
        })
        .await?;
    Ok(web::Json(list))
}

/// Change a finding
///
/// System administrators and inspectors whose scope holds the campaign's
/// subtree (403 `forbidden` to callers holding neither role; 404 `not_found`
/// for a campaign unknown or outside their scope).
/// Fields left out stay as they are; `measures` replaces the whole list. Send
/// the finding's `ETag` in `If-Match` to change it only if nobody changed it
/// since (412 `precondition_failed`). Answers the finding with its new
/// `ETag`.
#[utoipa::path(patch, path = "/api/v1/inspections/{id}/findings/{finding_id}", operation_id = "updateFinding", tag = "inspections", params(("id" = Uuid, Path), ("finding_id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = FindingPatch, example = json!({"measures": ["reminder_letter", "criticism_education"]})),
    responses((status = 200, body = Finding, description = "The changed finding, with its new `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 412), (status = 422)),
    security(("bearer" = [])))]
pub async fn update_finding(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<(Uuid, Uuid)>,
    if_match: IfMatch,
    body: Json<FindingPatch>,
) -> Result<HttpResponse, ApiError> {
    let (id, finding_id) = path.into_inner();
    let patch = body.0;
    policy::require(&who, Action::Inspect)?;
    let description = patch
        .description
        .as_deref()
        .map(|d| check_text("description", d, 4000))
        .transpose()?;
    let st = state.clone();
    let finding = state
        .db
        .transaction(None, move |tx| {
            let conn = &mut *tx.conn;
            let inspection = load(conn, id)?;
            policy::authorize(conn, &who, Action::Inspect, inspection.unit_id)?;
            let current = load_finding(conn, &st, id, finding_id)?;
            if_match.check(current.version)?;
            diesel::update(inspection_findings::table.find(finding_id))
                .set((
                    inspection_findings::category
                        .eq(enum_name(&patch.category.unwrap_or(current.category))),
                    inspection_findings::description
                        .eq(description.unwrap_or(current.description.clone())),
                    inspection_findings::measures.eq(measures_of(
                        patch.measures.as_deref().unwrap_or(&current.measures),
                    )),
                    inspection_findings::version.eq(current.version + 1),
                    inspection_findings::updated_at.eq(diesel::dsl::now),
                ))
                .execute(conn)?;
            let finding = load_finding(conn, &st, id, finding_id)?;
            tx.audit.record(
                Some(who.account_id),
                "finding",
                Some(finding_id),
                "update",
                crate::audit::state(&finding),
            );
            Ok(finding)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(finding.version)))
        .json(finding))
}

/// A rectification item to set.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RectificationInput {
    /// What must change, 1 to 4,000 characters.
    pub description: String,
    /// By when.
    pub deadline: NaiveDate,
    /// The look-back review date (on or after the deadline).
    #[serde(default)]
    pub review_on: Option<NaiveDate>,
}

/// Progress on a rectification item; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RectificationPatch {
    /// New status; `completed` needs evidence.
    pub status: Option<RectificationStatus>,
    /// What the unit shows for it.
    pub evidence: Option<String>,
    /// A new deadline (inspectors).
    pub deadline: Option<NaiveDate>,
    /// A new review date (inspectors).
    pub review_on: Option<NaiveDate>,
}

/// Set a rectification item on a finding
///
/// System administrators and inspectors whose scope holds the campaign's
/// subtree (403 `forbidden` to callers holding neither role; 404 `not_found`
/// for a campaign unknown or outside their scope).
/// `description` says what must change (1 to 4,000 characters), `deadline`
/// by when, and `review_on`, on or after the deadline, when to look back at
/// it (422 `validation_failed` otherwise). The item starts `open`, and shows
/// as `overdue` once its deadline has passed without it being completed; the
/// unit's admins report progress with `updateRectification`. Answers 201 with
/// the item and its `ETag`.
#[utoipa::path(post, path = "/api/v1/inspections/{id}/findings/{finding_id}/rectifications", operation_id = "createRectification", tag = "inspections", params(("id" = Uuid, Path), ("finding_id" = Uuid, Path)),
    request_body(content = RectificationInput, example = json!({
        "description": "制定并印发覆盖所属学校的干部离京报备审批办法。",
        "deadline": "2027-07-31",
        "review_on": "2027-10-31"
    })),
    responses((status = 201, body = Rectification, description = "The new rectification item, with its `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn create_rectification(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<(Uuid, Uuid)>,
    body: Json<RectificationInput>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let (id, finding_id) = path.into_inner();
    let input = body.0;
    policy::require(&who, Action::Inspect)?;
    crate::input::dates_in_range([
        ("deadline", Some(input.deadline)),
        ("review_on", input.review_on),
    ])?;
    let description = check_text("description", &input.description, 4000)?;
    if input.review_on.is_some_and(|r| r < input.deadline) {
        return Err(ApiError::invalid(
            IssueCode::OutOfRange,
            "review_on",
            json!({"min": input.deadline}),
        ));
    }
    let st = state.clone();
    let item = state
        .db
        .transaction(claim, move |tx| {
            let conn = &mut *tx.conn;
            let inspection = load(conn, id)?;
            policy::authorize(conn, &who, Action::Inspect, inspection.unit_id)?;
            load_finding(conn, &st, id, finding_id)?;
            let item_id = Uuid::new_v4();
            diesel::insert_into(rectifications::table)
                .values((
                    rectifications::id.eq(item_id),
                    rectifications::finding_id.eq(finding_id),
                    rectifications::description.eq(&description),
                    rectifications::deadline.eq(input.deadline),
                    rectifications::review_on.eq(input.review_on),
                ))
                .execute(conn)?;
            let item = load_rectification(conn, &st, finding_id, item_id)?;
            tx.audit.record(
                Some(who.account_id),
                "rectification",
                Some(item_id),
                "create",
                crate::audit::state(&item),
            );
            Ok(item)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("ETag", etag(item.version)))
        .json(item))
}

fn load_rectification(
    conn: &mut PgConnection,
    state: &AppState,
    finding_id: Uuid,
    id: Uuid,
) -> Result<Rectification, ApiError> {
    let today = state
        .config
        .now()
        .with_timezone(&state.config.time_zone)
        .date_naive();
    let row: RectificationRow = rectifications::table
        .find(id)
        .filter(rectifications::finding_id.eq(finding_id))
        .select(RectificationRow::as_select())
        .first(conn)?;
    to_rectification(row, today)
}

/// Report progress on a rectification item
///
/// System administrators and inspectors whose scope holds the campaign's
/// subtree, and system administrators and unit admins whose scope holds the
/// finding's unit; anyone else gets 404 `not_found` (403 `forbidden` when
/// they hold none of these roles). The unit's admins set `status` (`open`,
/// `in_progress`, `completed`) and `evidence`; only the inspection side may
/// also move `deadline` and `review_on` (403 `forbidden` otherwise).
/// `completed` needs evidence (422 `validation_failed` on `evidence`), and
/// `review_on` stays on or after the deadline. Send the item's `ETag` in
/// `If-Match` to change it only if nobody changed it since (412
/// `precondition_failed`). Answers the item with its new `ETag`.
#[utoipa::path(patch, path = "/api/v1/inspections/{id}/findings/{finding_id}/rectifications/{rectification_id}", operation_id = "updateRectification", tag = "inspections",
    params(("id" = Uuid, Path), ("finding_id" = Uuid, Path), ("rectification_id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = RectificationPatch, example = json!({
        "status": "completed",
        "evidence": "已于2027年7月20日印发《区教育局干部离京报备审批办法》，覆盖全部所属学校。"
    })),
    responses((status = 200, body = Rectification, description = "The changed rectification item, with its new `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 412), (status = 422)),
    security(("bearer" = [])))]
pub async fn update_rectification(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<(Uuid, Uuid, Uuid)>,
    if_match: IfMatch,
    body: Json<RectificationPatch>,
) -> Result<HttpResponse, ApiError> {
    let (id, finding_id, item_id) = path.into_inner();
    let patch = body.0;
    policy::require(&who, Action::Supervise)?;
    crate::input::dates_in_range([("deadline", patch.deadline), ("review_on", patch.review_on)])?;
    let evidence = patch
        .evidence
        .as_deref()
        .map(|e| check_text("evidence", e, 4000))
        .transpose()?;
    let st = state.clone();
    let item = state
        .db
        .transaction(None, move |tx| {
            let conn = &mut *tx.conn;
            let inspection = load(conn, id)?;
            let finding = load_finding(conn, &st, id, finding_id)?;
            let inspector = policy::covers(conn, &who, Action::Inspect, inspection.unit_id)?;
            let unit_admin = policy::covers(conn, &who, Action::Rectify, finding.unit_id)?;
            if !inspector && !unit_admin {
                return Err(ApiError::NotFound);
            }
            if !inspector && (patch.deadline.is_some() || patch.review_on.is_some()) {
                return Err(ApiError::Forbidden);
            }
            let current = load_rectification(conn, &st, finding_id, item_id)?;
            if_match.check(current.version)?;
            let status = patch.status.unwrap_or(current.status);
            let evidence = evidence.or(current.evidence.clone());
            if status == RectificationStatus::Completed && evidence.is_none() {
                return Err(ApiError::invalid(
                    IssueCode::Required,
                    "evidence",
                    json!({}),
                ));
            }
            let deadline = patch.deadline.unwrap_or(current.deadline);
            let review_on = patch.review_on.or(current.review_on);
            if review_on.is_some_and(|r| r < deadline) {
                return Err(ApiError::invalid(
                    IssueCode::OutOfRange,
                    "review_on",
                    json!({"min": deadline}),
                ));
            }
            let completed_at = match (status, current.completed_at) {
                (RectificationStatus::Completed, Some(at)) => Some(at),
                (RectificationStatus::Completed, None) => Some(st.config.now()),
                _ => None,
            };
            diesel::update(rectifications::table.find(item_id))
                .set((
                    rectifications::status.eq(enum_name(&status)),
                    rectifications::evidence.eq(&evidence),
                    rectifications::deadline.eq(deadline),
                    rectifications::review_on.eq(review_on),
                    rectifications::completed_at.eq(completed_at),
                    rectifications::version.eq(current.version + 1),
                    rectifications::updated_at.eq(diesel::dsl::now),
                ))
                .execute(conn)?;
            let item = load_rectification(conn, &st, finding_id, item_id)?;
            tx.audit.record(
                Some(who.account_id),
                "rectification",
                Some(item_id),
                "update",
                crate::audit::state(&item),
            );
            Ok(item)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(item.version)))
        .json(item))
}
