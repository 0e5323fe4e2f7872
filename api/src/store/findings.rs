//! A campaign's findings and their rectification items as written: recorded,
//! changed, and the items' progress.

use crate::error::ApiError;
use crate::extract::AppState;
use crate::schema::{inspection_findings, rectifications, units};
use crate::store::enums::enum_name;
use crate::store::inspections::{
    FindingCategory, FindingInput, FindingRow, Measure, Rectification, RectificationRow,
    RectificationStatus, measures_of, to_rectification,
};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use uuid::Uuid;

/// Whether a unit lies in the subtree of a campaign's node.
pub fn within_campaign(
    conn: &mut PgConnection,
    unit: Uuid,
    campaign_unit: Uuid,
) -> Result<bool, ApiError> {
    let path: Option<Vec<Uuid>> = units::table
        .find(unit)
        .select(units::path)
        .first(conn)
        .optional()?;
    Ok(path.is_some_and(|p| p.contains(&campaign_unit)))
}

/// Records a finding of a campaign, by `by`.
pub fn insert_finding(
    conn: &mut PgConnection,
    id: Uuid,
    inspection: Uuid,
    input: &FindingInput,
    description: &str,
    by: Uuid,
) -> Result<(), ApiError> {
    diesel::insert_into(inspection_findings::table)
        .values((
            inspection_findings::id.eq(id),
            inspection_findings::inspection_id.eq(inspection),
            inspection_findings::unit_id.eq(input.unit_id),
            inspection_findings::category.eq(enum_name(&input.category)),
            inspection_findings::description.eq(description),
            inspection_findings::measures.eq(measures_of(&input.measures)),
            inspection_findings::created_by.eq(by),
        ))
        .execute(conn)?;
    Ok(())
}

/// A campaign's findings, oldest first.
pub fn findings_of(conn: &mut PgConnection, inspection: Uuid) -> Result<Vec<FindingRow>, ApiError> {
    Ok(inspection_findings::table
        .filter(inspection_findings::inspection_id.eq(inspection))
        .order((inspection_findings::created_at, inspection_findings::id))
        .select(FindingRow::as_select())
        .load(conn)?)
}

/// Writes a finding's new category, description and measures, one version on
/// from `version`.
pub fn update_finding(
    conn: &mut PgConnection,
    id: Uuid,
    category: FindingCategory,
    description: &str,
    measures: &[Measure],
    version: i32,
) -> Result<(), ApiError> {
    diesel::update(inspection_findings::table.find(id))
        .set((
            inspection_findings::category.eq(enum_name(&category)),
            inspection_findings::description.eq(description),
            inspection_findings::measures.eq(measures_of(measures)),
            inspection_findings::version.eq(version + 1),
            inspection_findings::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Adds a rectification item to a finding.
pub fn insert_rectification(
    conn: &mut PgConnection,
    id: Uuid,
    finding: Uuid,
    description: &str,
    deadline: NaiveDate,
    review_on: Option<NaiveDate>,
) -> Result<(), ApiError> {
    diesel::insert_into(rectifications::table)
        .values((
            rectifications::id.eq(id),
            rectifications::finding_id.eq(finding),
            rectifications::description.eq(description),
            rectifications::deadline.eq(deadline),
            rectifications::review_on.eq(review_on),
        ))
        .execute(conn)?;
    Ok(())
}

/// A rectification item of a finding, as of today in the server's zone.
pub fn load_rectification(
    conn: &mut PgConnection,
    state: &AppState,
    finding: Uuid,
    id: Uuid,
) -> Result<Rectification, ApiError> {
    let today = state
        .config
        .now()
        .with_timezone(&state.config.time_zone)
        .date_naive();
    let row: RectificationRow = rectifications::table
        .find(id)
        .filter(rectifications::finding_id.eq(finding))
        .select(RectificationRow::as_select())
        .first(conn)?;
    to_rectification(row, today)
}

/// A rectification item's progress as it will be written.
pub struct Progress {
    /// Its status.
    pub status: RectificationStatus,
    /// What the unit shows for it.
    pub evidence: Option<String>,
    /// By when.
    pub deadline: NaiveDate,
    /// The look-back review date.
    pub review_on: Option<NaiveDate>,
    /// When it was completed.
    pub completed_at: Option<DateTime<Utc>>,
}

/// Writes a rectification item's progress, one version on from `version`.
pub fn update_rectification(
    conn: &mut PgConnection,
    id: Uuid,
    progress: &Progress,
    version: i32,
) -> Result<(), ApiError> {
    diesel::update(rectifications::table.find(id))
        .set((
            rectifications::status.eq(enum_name(&progress.status)),
            rectifications::evidence.eq(&progress.evidence),
            rectifications::deadline.eq(progress.deadline),
            rectifications::review_on.eq(progress.review_on),
            rectifications::completed_at.eq(progress.completed_at),
            rectifications::version.eq(version + 1),
            rectifications::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(())
}
