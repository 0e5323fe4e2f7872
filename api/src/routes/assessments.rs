//! Assessments: the core's answer to "what does this trip require of me?",
//! computed on the server's data. Changes nothing.

use crate::error::ApiError;
use crate::extract::{AppState, Json, Principal, RequestLang};
use crate::policy::{self, Action};
use crate::store::accounts::unit_of;
use actix_web::web;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;
use whereabouts_core::{Assessment, TripDraft, assess};

/// A draft to assess, for the caller or (for admins and inspectors in scope) for another account.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AssessmentRequest {
    /// The trip draft.
    pub draft: TripDraft,
    /// Assess for this account instead of the caller.
    pub account_id: Option<Uuid>,
}

/// Assess a trip draft: what it requires, who approves it, and by when
///
/// Any signed-in account, for itself; system administrators, unit admins and
/// inspectors may also assess for an account whose node lies in their scope
/// by naming it in `account_id` (403 `forbidden` without such a role; 404
/// `not_found` for an account unknown or outside their scope). Changes
/// nothing: it runs the assessment filing runs, on the account's profile, the
/// policy in force for its node, the special periods over it, the calendar
/// and the time now.
///
/// Answers whether the draft is `valid` (`errors`, each with a stable `code`
/// such as `return_before_departure`, `destination_inside_jurisdiction` or
/// `late_reason_required`, and the `field` at fault), `warnings`, the period
/// (`normal`, `holiday` or `special`), the rule that matched, the requirement
/// (`none`, `report` or `approval`), the resolved approver chain, whom the
/// filing is filed with, the submit-by deadline and whether filing now is
/// late, when the return report is due and which travel documents are
/// needed. An invalid draft still answers 200, with `valid: false`. 409
/// `account_has_no_unit` when the account belongs to no unit.
#[utoipa::path(post, path = "/api/v1/assessments", operation_id = "assessTrip", tag = "assessments",
    request_body(content = AssessmentRequest, example = json!({
        "draft": {
            "kind": "leave_jurisdiction",
            "purpose": "visit_relatives",
            "reason": "五一假期回上海探望父母",
            "destinations": [{"code": "310000"}],
            "depart_on": "2027-04-30",
            "return_on": "2027-05-05",
            "contact_phone": "13800138000",
            "substitute_id": "3b8be978-f03b-45d4-afd9-e713dc655320",
            "companions": "配偶"
        }
    })),
    responses((status = 200, body = Assessment, description = "The assessment of the draft; nothing was stored"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409, description = "The account belongs to no unit"), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    who: Principal,
    lang: RequestLang,
    body: Json<AssessmentRequest>,
) -> Result<web::Json<Assessment>, ApiError> {
    let body = body.0;
    crate::input::dates_in_range([
        ("draft.depart_on", body.draft.depart_on),
        ("draft.return_on", body.draft.return_on),
    ])?;
    let target = body.account_id.unwrap_or(who.account_id);
    let st = state.clone();
    let filer = state
        .db
        .run(move |conn| {
            if target != who.account_id {
                policy::require(&who, Action::Supervise)?;
                match unit_of(conn, target)? {
                    Some(unit) => policy::authorize(conn, &who, Action::Supervise, unit)?,
                    None => return Err(ApiError::NotFound),
                }
            }
            st.contexts.of(conn, target)
        })
        .await?;
    let input = filer.context.clone().input(&state, body.draft, lang.0);
    Ok(web::Json(assess(&input)))
}
