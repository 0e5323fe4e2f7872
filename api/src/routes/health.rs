//! Liveness and readiness.

use crate::extract::AppState;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

/// Health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when a dependency is down.
    pub status: String,
}

/// Check that the process is up
///
/// Public: no token needed. Answers 200 with `status` `ok` whenever the
/// process can answer at all, without touching the database
/// (`checkReadiness` does that). Meant for liveness probes.
#[utoipa::path(get, path = "/healthz", operation_id = "checkHealth", tag = "health", responses((status = 200, body = Health, description = "The process is up: `status` is `ok`")))]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health {
        status: "ok".into(),
    })
}

/// Check that the process is up and its database answers
///
/// Public: no token needed. Pings the database and answers 200 with
/// `status` `ok` when it answers, or 503 with `status` `unavailable` (a
/// `Health` body, not a problem) when it does not. Meant for readiness probes
/// and load balancers: send no traffic to a server that is not ready.
#[utoipa::path(get, path = "/readyz", operation_id = "checkReadiness", tag = "health", responses((status = 200, body = Health, description = "Ready: the database answers"), (status = 503, body = Health, description = "Not ready: the database does not answer (`status` is `unavailable`)")))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.db.ping().await {
        HttpResponse::Ok().json(Health {
            status: "ok".into(),
        })
    } else {
        HttpResponse::ServiceUnavailable().json(Health {
            status: "unavailable".into(),
        })
    }
}
