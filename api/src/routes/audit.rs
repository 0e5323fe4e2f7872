//! Checking the audit chain.

use crate::audit::{Verification, verify as verify_chain};
use crate::error::ApiError;
use crate::extract::{AppState, Principal};
use crate::policy::{self, Action};
use actix_web::web;

/// Recomputes the audit chain and names the first row that does not fit.
/// System administrators only.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    responses((status = 200, body = Verification), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn verify(
    state: web::Data<AppState>,
    who: Principal,
) -> Result<web::Json<Verification>, ApiError> {
    policy::require(&who, Action::VerifyAudit)?;
    let result = state
        .db
        .run(|conn| verify_chain(conn).map_err(ApiError::from))
        .await?;
    Ok(web::Json(result))
}
