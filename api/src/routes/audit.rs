//! Checking the audit chain.

use crate::audit::{Verification, verify as verify_chain};
use crate::error::ApiError;
use crate::extract::{AppState, Principal};
use crate::policy::{self, Action};
use actix_web::web;

/// Verify the tamper-evident audit chain
///
/// System administrators only (403 `forbidden` to everyone else). Every
/// change the server makes appends a row to the audit chain whose hash (an
/// HMAC-SHA256 under the server's audit key) covers the row and the hash of
/// the row before it, and the database refuses to update or delete rows. This recomputes the chain and answers whether every
/// row fits (`ok`), how many rows were `checked`, and the first row that does
/// not fit (`first_bad_id`: a changed row, a missing predecessor or a broken
/// link), `null` when all fit.
#[utoipa::path(get, path = "/api/v1/audit/verify", operation_id = "verifyAuditChain", tag = "audit",
    responses((status = 200, body = Verification, description = "The result of the check"), (status = 401), (status = 403)),
    security(("bearer" = [])))]
pub async fn verify(
    state: web::Data<AppState>,
    who: Principal,
) -> Result<web::Json<Verification>, ApiError> {
    policy::require(&who, Action::VerifyAudit)?;
    let key = state.config.audit_key;
    let result = state
        .db
        .run(move |conn| verify_chain(conn, &key).map_err(ApiError::from))
        .await?;
    Ok(web::Json(result))
}
