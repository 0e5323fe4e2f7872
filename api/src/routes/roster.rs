//! The away roster: who in a unit is away on a day, where to (province or
//! country level only), until when, and who stands in.

use crate::access::{self, Access, Entry, Requester};
use crate::error::ApiError;
use crate::extract::{AppState, Principal};
use crate::policy;
use crate::store::roster as store;
use actix_web::web;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use whereabouts_core::regions;
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
    /// People away, by name (in code point order).
    pub items: Vec<RosterEntry>,
}

fn coarse(code: &str) -> Option<CoarseDestination> {
    regions::coarse(code).map(|r| CoarseDestination {
        code: r.code.clone(),
        name_zh: r.name_zh.clone(),
        name_en: r.name_en.clone(),
    })
}

/// List who in a node and below is away on a day
///
/// Readable by the members of the unit that holds the node: an account
/// whose *unit* (the nearest node of kind `unit` at or above its own node,
/// else the jurisdiction) is the node or lies above it, so that members read
/// the roster of their unit and of the nodes inside it, never of a node above
/// it. Also by the principal and deputies of the node or of any node above
/// it, and by system administrators, unit admins and inspectors whose scope
/// holds it. Anyone else gets 404 `not_found`.
///
/// Answers, for the node and every node below it, the people whose trip
/// covers the day `on` (default: today in the jurisdiction's time zone): the
/// filings `pending`, `approved`, `recorded`, `away` or `returned` whose
/// `depart_on`..`return_on` holds the day, and the people still `away` past
/// their planned return. Destinations show at province or country level only,
/// with who stands in. By name; not paged.
#[utoipa::path(get, path = "/api/v1/units/{id}/roster", operation_id = "getUnitRoster", tag = "filings", params(("id" = Uuid, Path), RosterParams),
    responses((status = 200, body = Roster, description = "The people away on the day, by name"), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn roster(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    params: web::Query<RosterParams>,
    requester: Requester,
) -> Result<web::Json<Roster>, ApiError> {
    let id = id.into_inner();
    crate::input::dates_in_range([("on", params.on)])?;
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
            policy::read_roster(conn, &who, id)?;
            // The filings over the day, then the names of their filers and
            // substitutes.
            let rows = store::away_on(conn, id, on)?;
            let drafts: Vec<TripDraft> = rows
                .iter()
                .map(|r| {
                    serde_json::from_value(r.draft.clone())
                        .map_err(ApiError::internal("decoding a stored filing's draft"))
                })
                .collect::<Result<_, _>>()?;
            let mut people: Vec<Uuid> = rows.iter().map(|r| r.account_id).collect();
            people.extend(drafts.iter().filter_map(|d| d.substitute_id));
            let names = store::names(conn, &people)?;
            let mut items = Vec::new();
            for (away, draft) in rows.into_iter().zip(drafts) {
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
                let display_name = names.get(&away.account_id).cloned().unwrap_or_default();
                let substitute_name = draft.substitute_id.and_then(|sub| names.get(&sub).cloned());
                items.push(RosterEntry {
                    filing_id: away.filing_id,
                    account_id: away.account_id,
                    display_name,
                    unit_id: away.unit_id,
                    status: crate::store::enums::parse_enum(&away.status)?,
                    destinations,
                    depart_on: away.depart_on,
                    return_on: away.return_on,
                    substitute_id: draft.substitute_id,
                    substitute_name,
                });
            }
            items.sort_by(|a, b| {
                a.display_name
                    .cmp(&b.display_name)
                    .then(a.filing_id.cmp(&b.filing_id))
            });
            let read = Entry::new(Access::Roster, Some(who.account_id))
                .target(id.to_string())
                .units(vec![id])
                .filters(serde_json::json!({"on": on}))
                .rows(items.len());
            access::record(conn, &requester, read)?;
            Ok(Roster {
                unit_id: id,
                on,
                items,
            })
        })
        .await?;
    Ok(web::Json(roster))
}
