//! Inspection campaigns as stored: campaigns, their report computed over a
//! subtree and a window, findings and their rectification items.

use crate::error::ApiError;
use crate::extract::{AppState, Principal};
use crate::policy::{self, Action};
use crate::schema::{inspection_findings, inspections, rectifications, units};
use crate::store::enums::{enum_name, parse_enum};
use crate::store::flags::FlagSql;
use crate::store::policies::{CoverageSource, UnitCoverage, subtree_coverage};
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
pub struct InspectionRow {
    pub id: Uuid,
    pub name: String,
    pub unit_id: Uuid,
    pub from_on: NaiveDate,
    pub to_on: NaiveDate,
    pub opened_by: Uuid,
    pub version: i32,
    pub created_at: DateTime<Utc>,
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

/// Opens a campaign, by `by`.
pub fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    name: &str,
    input: &InspectionInput,
    by: Uuid,
) -> Result<(), ApiError> {
    diesel::insert_into(inspections::table)
        .values((
            inspections::id.eq(id),
            inspections::name.eq(name),
            inspections::unit_id.eq(input.unit_id),
            inspections::from_on.eq(input.from),
            inspections::to_on.eq(input.to),
            inspections::opened_by.eq(by),
        ))
        .execute(conn)?;
    Ok(())
}

/// A page of campaigns over the subtrees of `roots` (all with none), in
/// descending order of their ids, before the id `after`: at most `limit`.
pub fn page(
    conn: &mut PgConnection,
    roots: Option<Vec<Uuid>>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<InspectionRow>, ApiError> {
    let mut query = inspections::table
        .inner_join(units::table)
        .select(InspectionRow::as_select())
        .into_boxed();
    if let Some(roots) = roots {
        query = query.filter(sql::<Bool>("units.path && ").bind::<Array<SqlUuid>, _>(roots));
    }
    if let Some(after) = after {
        query = query.filter(inspections::id.lt(after));
    }
    Ok(query
        .order(inspections::id.desc())
        .limit(limit)
        .load(conn)?)
}

pub fn load(conn: &mut PgConnection, id: Uuid) -> Result<Inspection, ApiError> {
    Ok(inspections::table
        .find(id)
        .select(InspectionRow::as_select())
        .first(conn)?
        .into())
}

/// Loads a campaign the caller may read (`Supervise` over its subtree), or 404.
pub fn readable(
    conn: &mut PgConnection,
    who: &Principal,
    id: Uuid,
) -> Result<Inspection, ApiError> {
    policy::require(who, Action::Supervise)?;
    let inspection = load(conn, id)?;
    policy::authorize(conn, who, Action::Supervise, inspection.unit_id)?;
    Ok(inspection)
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
pub struct CountBy {
    #[diesel(sql_type = SqlUuid)]
    pub unit_id: Uuid,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
    #[diesel(sql_type = BigInt)]
    pub late: i64,
}

#[derive(QueryableByName)]
pub struct PersonBy {
    #[diesel(sql_type = SqlUuid)]
    pub unit_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub account_id: Uuid,
    #[diesel(sql_type = Text)]
    pub rank: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub status: String,
}

#[derive(QueryableByName)]
pub struct FindingCount {
    #[diesel(sql_type = SqlUuid)]
    pub unit_id: Uuid,
    #[diesel(sql_type = BigInt)]
    pub findings: i64,
    #[diesel(sql_type = BigInt)]
    pub overdue: i64,
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
pub struct FindingRow {
    pub id: Uuid,
    pub inspection_id: Uuid,
    pub unit_id: Uuid,
    pub category: String,
    pub description: String,
    pub measures: Vec<String>,
    pub created_by: Uuid,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = rectifications)]
pub struct RectificationRow {
    pub id: Uuid,
    pub finding_id: Uuid,
    pub description: String,
    pub deadline: NaiveDate,
    pub status: String,
    pub evidence: Option<String>,
    pub review_on: Option<NaiveDate>,
    pub completed_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn to_rectification(r: RectificationRow, today: NaiveDate) -> Result<Rectification, ApiError> {
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

pub fn to_findings(
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

pub fn load_finding(
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

pub fn check_text(field: &str, text: &str, max: usize) -> Result<String, ApiError> {
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

pub fn measures_of(measures: &[Measure]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in measures.iter().map(enum_name) {
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}
