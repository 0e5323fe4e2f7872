//! The away roster: who in a unit is away on a day, where to (province or
//! country level only), until when, and who stands in.

use crate::error::ApiError;
use crate::extract::{AppState, Principal};
use crate::schema::{accounts, filings, units};
use crate::scope::{self, READERS};
use actix_web::web;
use chrono::NaiveDate;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Uuid as SqlUuid};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use whereabouts_core::regions::{self, DestinationKind};
use whereabouts_core::{FilingStatus, TripDraft};

/// The day asked about.
#[derive(Debug, Deserialize, IntoParams)]
pub struct RosterParams {
    /// The day (default: today in the jurisdiction).
    pub on: Option<NaiveDate>,
}

/// A destination at province or country level.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CoarseDestination {
    /// Province code, `HK`, `MO`, `TW` or a country code.
    pub code: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
}

/// One person away.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RosterEntry {
    /// The filing.
    pub filing_id: Uuid,
    /// Who is away.
    pub account_id: Uuid,
    /// Their name.
    pub display_name: String,
    /// Their node.
    pub unit_id: Uuid,
    /// The filing's status: `away`; `returned` for a day in the past; or
    /// `approved`/`recorded`/`pending` when departure is not reported yet.
    pub status: FilingStatus,
    /// Where to.
    pub destinations: Vec<CoarseDestination>,
    /// Planned departure.
    pub depart_on: NaiveDate,
    /// Planned return.
    pub return_on: NaiveDate,
    /// Who stands in.
    pub substitute_id: Option<Uuid>,
    /// Their name.
    pub substitute_name: Option<String>,
}

/// The roster of a unit on a day.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Roster {
    /// The unit (with its subtree).
    pub unit_id: Uuid,
    /// The day.
    pub on: NaiveDate,
    /// People away, by name.
    pub items: Vec<RosterEntry>,
}

fn coarse(code: &str) -> Option<CoarseDestination> {
    let region = regions::lookup(code)?;
    let region = match region.kind {
        DestinationKind::Prefecture => region
            .parent
            .as_deref()
            .and_then(regions::lookup)
            .unwrap_or(region),
        _ => region,
    };
    Some(CoarseDestination {
        code: region.code.clone(),
        name_zh: region.name_zh.clone(),
        name_en: region.name_en.clone(),
    })
}

type RosterRow = (
    Uuid,
    Uuid,
    Uuid,
    String,
    NaiveDate,
    NaiveDate,
    serde_json::Value,
    String,
);

/// Who in a unit (and below) is away on a day: trips planned over that day, and
/// people still away past their planned return. Readable by members of the unit
/// and by admins and inspectors whose scope holds it; 404 to anyone else.
#[utoipa::path(get, path = "/api/v1/units/{id}/roster", tag = "filings", params(("id" = Uuid, Path), RosterParams),
    responses((status = 200, body = Roster), (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn roster(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    params: web::Query<RosterParams>,
) -> Result<web::Json<Roster>, ApiError> {
    let id = id.into_inner();
    let on = params.on.unwrap_or_else(|| {
        state
            .config
            .now()
            .with_timezone(&state.config.time_zone)
            .date_naive()
    });
    let roster = state
        .db
        .run(move |conn| {
            let member = match who.unit_id {
                Some(own) => units::table
                    .find(own)
                    .select(units::path)
                    .first::<Vec<Uuid>>(conn)?
                    .contains(&id),
                None => false,
            };
            let reader =
                member || (who.has_any(READERS) && scope::covers(conn, &who, READERS, id)?);
            if !reader {
                return Err(ApiError::NotFound);
            }
            let rows: Vec<RosterRow> = filings::table
                .inner_join(accounts::table.on(accounts::id.eq(filings::account_id)))
                .filter(sql::<Bool>("filings.unit_path @> ").bind::<Array<SqlUuid>, _>(vec![id]))
                .filter(
                    filings::status.eq_any(["pending", "approved", "recorded", "away", "returned"]),
                )
                .filter(filings::depart_on.le(on))
                // Still away past the planned return counts too (overdue).
                .filter(filings::return_on.ge(on).or(filings::status.eq("away")))
                .order(accounts::display_name)
                .select((
                    filings::id,
                    filings::account_id,
                    filings::unit_id,
                    filings::status,
                    filings::depart_on.assume_not_null(),
                    filings::return_on.assume_not_null(),
                    filings::draft,
                    accounts::display_name,
                ))
                .load(conn)?;
            let mut items = Vec::new();
            for (
                filing_id,
                account_id,
                unit_id,
                status,
                depart_on,
                return_on,
                draft,
                display_name,
            ) in rows
            {
                let draft: TripDraft =
                    serde_json::from_value(draft).map_err(|_| ApiError::Internal)?;
                let mut destinations: Vec<CoarseDestination> = Vec::new();
                for d in draft
                    .destinations
                    .iter()
                    .filter_map(|d| coarse(d.code.trim()))
                {
                    if !destinations.iter().any(|x| x.code == d.code) {
                        destinations.push(d);
                    }
                }
                let substitute_name = match draft.substitute_id {
                    Some(sub) => accounts::table
                        .find(sub)
                        .select(accounts::display_name)
                        .first(conn)
                        .optional()?,
                    None => None,
                };
                items.push(RosterEntry {
                    filing_id,
                    account_id,
                    display_name,
                    unit_id,
                    status: crate::routes::units::parse_enum(&status)?,
                    destinations,
                    depart_on,
                    return_on,
                    substitute_id: draft.substitute_id,
                    substitute_name,
                });
            }
            Ok(Roster {
                unit_id: id,
                on,
                items,
            })
        })
        .await?;
    Ok(web::Json(roster))
}
