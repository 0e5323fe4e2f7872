//! Units: the tree of jurisdictions, units, second-level units and departments,
//! and their leadership (principal and deputies in charge of nodes).

use crate::error::ApiError;
use crate::extract::{AppState, IfMatch, Json, Principal, versioned};
use crate::page::{PageParams, paginate};
use crate::policy::{self, Action};
use crate::store::Within;
use crate::store::units::{self as store, Leaders, NewUnit, Unit, to_units};
use crate::tx::Claim;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use whereabouts_core::{IssueCode, UnitKind};

/// A new unit.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateUnit {
    /// Unique code: letters, digits, `_`, `.`, `-`, up to 64.
    pub code: String,
    /// Name, 1 to 200 characters.
    pub name: String,
    /// Kind of node.
    pub kind: UnitKind,
    /// Parent node; only a system administrator over the whole tree creates roots.
    pub parent_id: Option<Uuid>,
}

fn check_code(code: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&code.len())
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            IssueCode::Invalid,
            "code",
            json!({"pattern": "^[A-Za-z0-9_.-]{1,64}$"}),
        ))
    }
}

fn check_name(name: &str) -> Result<(), ApiError> {
    crate::input::check_name("name", name, 200)
}

/// Create a node of the unit tree
///
/// System administrators and unit admins, under a parent inside their scope;
/// only a system administrator over the whole tree creates a root (no
/// `parent_id`). Callers holding neither role get 403 `forbidden`, and so
/// does a root asked for without a grant over the whole tree; a parent
/// unknown or outside the caller's scope answers 404 `not_found`.
///
/// A node is a `jurisdiction` (a district or city), a `unit` (an organ,
/// state-owned enterprise or public institution), a `subunit` (a second-level
/// unit) or a `department`. A filer's *unit*, as approver rules use it, is the
/// nearest node of kind `unit` at or above the filer's own node (the
/// `jurisdiction` when there is none). The new node has no leaders yet
/// (`setUnitLeaders`) and inherits the policy of its nearest ancestor until it
/// has its own. Answers 201 with the node and its `ETag`; 409 `duplicate` when
/// the code is taken, 422 `validation_failed` for a bad code or name.
#[utoipa::path(post, path = "/api/v1/units", operation_id = "createUnit", tag = "units",
    request_body(content = CreateUnit, example = json!({"code": "CY-JYJ", "name": "朝阳区教育局", "kind": "unit", "parent_id": "c15ed824-83c3-4b5f-8324-14c74a2d077f"})),
    responses((status = 201, body = Unit, description = "The new node, with its `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409, description = "The code is taken (`duplicate`)"), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    who: Principal,
    body: Json<CreateUnit>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    policy::require(&who, Action::ManageOrganisation)?;
    check_code(&body.code)?;
    check_name(&body.name)?;
    let unit = state
        .db
        .transaction(claim, move |tx| {
            let conn = &mut *tx.conn;
            let path = match body.parent_id {
                None => {
                    policy::authorize_global(&who, Action::ManageOrganisation)?;
                    Vec::new()
                }
                Some(parent) => {
                    policy::authorize(conn, &who, Action::ManageOrganisation, parent)?;
                    store::path(conn, parent)?
                }
            };
            let id = Uuid::new_v4();
            let mut path = path;
            path.push(id);
            store::insert(
                conn,
                NewUnit {
                    id,
                    code: body.code.trim(),
                    name: body.name.trim(),
                    kind: body.kind.as_str(),
                    parent_id: body.parent_id,
                    path,
                },
            )?;
            let unit = store::load_unit(conn, id)?;
            tx.audit.record(
                Some(who.account_id),
                "unit",
                Some(id),
                "create",
                crate::audit::state(&unit),
            );
            Ok(unit)
        })
        .await?;
    Ok(versioned(
        actix_web::http::StatusCode::CREATED,
        unit.version,
        &unit,
    ))
}

/// Read a node of the unit tree
///
/// System administrators, unit admins and inspectors whose scope holds the
/// node. Callers holding none of these roles get 403 `forbidden`; a node
/// unknown or outside the caller's scope answers 404 `not_found`. Answers the
/// node with its path from the root, its principal and deputies, and its
/// `ETag` (a quoted version such as `"3"`) to send back in `If-Match` when
/// changing it.
#[utoipa::path(get, path = "/api/v1/units/{id}", operation_id = "getUnit", tag = "units", params(("id" = Uuid, Path)),
    responses((status = 200, body = Unit, description = "The node, with its `ETag`"), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let unit = state
        .db
        .run(move |conn| {
            policy::authorize(conn, &who, Action::ReadOrganisation, id)?;
            store::load_unit(conn, id)
        })
        .await?;
    Ok(versioned(
        actix_web::http::StatusCode::OK,
        unit.version,
        &unit,
    ))
}

/// Changes to a unit; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateUnit {
    /// New code.
    pub code: Option<String>,
    /// New name.
    pub name: Option<String>,
    /// New kind.
    pub kind: Option<UnitKind>,
}

/// Change a node's code, name or kind
///
/// System administrators and unit admins whose scope holds the node (403
/// `forbidden` to callers holding neither role; 404 `not_found` for a node
/// unknown or outside their scope). Fields left out stay as they are; the
/// parent cannot be changed. Send the node's `ETag` unchanged in `If-Match`
/// (for example `"3"`) to change it only if nobody changed it since: a stale
/// one answers 412 `precondition_failed`. Answers the node with its new
/// `ETag`; 409 `duplicate` when the new code is taken, 422
/// `validation_failed` for a bad code or name.
#[utoipa::path(patch, path = "/api/v1/units/{id}", operation_id = "updateUnit", tag = "units", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = UpdateUnit, example = json!({"name": "北京市朝阳区教育委员会"})),
    responses((status = 200, body = Unit, description = "The changed node, with its new `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 412), (status = 422)),
    security(("bearer" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateUnit>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let body = body.0;
    policy::require(&who, Action::ManageOrganisation)?;
    if let Some(code) = &body.code {
        check_code(code)?;
    }
    if let Some(name) = &body.name {
        check_name(name)?;
    }
    let unit = state
        .db
        .transaction(None, move |tx| {
            let conn = &mut *tx.conn;
            policy::authorize(conn, &who, Action::ManageOrganisation, id)?;
            let current = store::lock(conn, id)?;
            if_match.check(current.version)?;
            store::update(
                conn,
                &current,
                body.code.as_deref().map(str::trim).unwrap_or(&current.code),
                body.name.as_deref().map(str::trim).unwrap_or(&current.name),
                body.kind.map(UnitKind::as_str).unwrap_or(&current.kind),
            )?;
            let unit = store::load_unit(conn, id)?;
            tx.audit.record(
                Some(who.account_id),
                "unit",
                Some(id),
                "update",
                crate::audit::state(&unit),
            );
            Ok(unit)
        })
        .await?;
    Ok(versioned(
        actix_web::http::StatusCode::OK,
        unit.version,
        &unit,
    ))
}

crate::page_schema!(
/// A page of units.
    UnitPage,
    Unit,
    "Units, by code.",
    "Cursor of the next page."
);

/// List the direct children of a node
///
/// System administrators, unit admins and inspectors whose scope holds the
/// node (403 `forbidden` to callers holding none of these roles; 404
/// `not_found` for a node unknown or outside their scope). Answers one page
/// of the node's direct children, by code, as `{items, next_cursor}`: pass
/// `next_cursor` back as `cursor` for the next page; it is `null` on the last.
#[utoipa::path(get, path = "/api/v1/units/{id}/children", operation_id = "listUnitChildren", tag = "units", params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = UnitPage, description = "A page of the node's children, by code"), (status = 401), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn children(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    params: web::Query<PageParams>,
) -> Result<web::Json<UnitPage>, ApiError> {
    let id = id.into_inner();
    let page = state
        .db
        .run(move |conn| {
            policy::authorize(conn, &who, Action::ReadOrganisation, id)?;
            let limit = params.limit()?;
            let after = params.after()?;
            let rows = store::children(conn, id, after.as_deref(), limit + 1)?;
            let (rows, next_cursor) = paginate(rows, limit, |r| r.code.clone());
            Ok(UnitPage {
                items: to_units(conn, rows)?,
                next_cursor,
            })
        })
        .await?;
    Ok(web::Json(page))
}

/// Filters for the unit list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct UnitListParams {
    /// Only units whose code or name contains this text.
    pub q: Option<String>,
}

/// List the nodes in the caller's scope
///
/// System administrators, unit admins and inspectors: every node of the
/// subtrees their grants cover, by code (403 `forbidden` to callers holding
/// none of these roles). `q` keeps the nodes whose code or name contains the
/// text, ignoring case. One page per call, as `{items, next_cursor}`: pass
/// `next_cursor` back as `cursor` for the next page; it is `null` on the last.
#[utoipa::path(get, path = "/api/v1/units", operation_id = "listUnits", tag = "units", params(UnitListParams, PageParams),
    responses((status = 200, body = UnitPage, description = "A page of nodes, by code"), (status = 401), (status = 403), (status = 422)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    who: Principal,
    filter: web::Query<UnitListParams>,
    params: web::Query<PageParams>,
) -> Result<web::Json<UnitPage>, ApiError> {
    policy::require(&who, Action::ReadOrganisation)?;
    crate::extract::clean_query("q", filter.q.as_deref())?;
    let page = state
        .db
        .run(move |conn| {
            let scope = match policy::scope(&who, Action::ReadOrganisation).roots() {
                Some(roots) => Within::Roots(roots),
                None => Within::All,
            };
            let limit = params.limit()?;
            let after = params.after()?;
            let rows = store::page(
                conn,
                &scope,
                filter.q.as_deref(),
                after.as_deref(),
                limit + 1,
            )?;
            let (rows, next_cursor) = paginate(rows, limit, |r| r.code.clone());
            Ok(UnitPage {
                items: to_units(conn, rows)?,
                next_cursor,
            })
        })
        .await?;
    Ok(web::Json(page))
}

/// Set the principal and deputies of a node
///
/// System administrators and unit admins whose scope holds the node (403
/// `forbidden` to callers holding neither role; 404 `not_found` for a node
/// unknown or outside their scope). Replaces the node's leadership:
/// `principal_id` is the head of the node (`null`: vacant) and `deputies`
/// lists its deputies in order, each with the nodes it is `in_charge_of`.
/// Leaders must be accounts of the node's subtree, given once each, and every
/// node in `in_charge_of` must lie in the same subtree: 422
/// `validation_failed` otherwise (reason `not_a_member`, `duplicate` or
/// `outside_unit`).
///
/// Approver rules resolve against these posts, and only against them: an
/// account's `position` selects policy rules but makes no one an approver.
/// A department's head is the `principal_id` of the department's node, and a
/// `department_head` rule resolves to the `principal_id` of the filer's own
/// node; `unit_principal` to that of the filer's unit (the nearest node of
/// kind `unit` at or above the filer's node); `deputy_in_charge` to the deputy
/// of the filer's unit whose `in_charge_of` holds the filer's node or its
/// nearest ancestor that a deputy is in charge of; `superior_principal` and
/// `superior_deputy_in_charge` to the same posts of the next unit (or
/// jurisdiction) above. A rule whose post is vacant is skipped, with the
/// assessment warning `approver_vacant`.
///
/// Giving, taking or changing someone's post changes their standing: the
/// caller must be allowed to act on every account that gains, loses or
/// changes a post here (403 `forbidden` when one of them holds grants as
/// wide as the caller's), and no one changes their own (403
/// `self_change_forbidden`). Send the node's `ETag` in `If-Match` to guard
/// against a concurrent change (412 `precondition_failed`). Answers the node
/// with its new `ETag`.
#[utoipa::path(put, path = "/api/v1/units/{id}/leaders", operation_id = "setUnitLeaders", tag = "units", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = Leaders, example = json!({
        "principal_id": "a6213e39-d245-4cba-bac5-d2a644aff0f5",
        "deputies": [{"account_id": "9e9ed3b2-f52c-4448-b605-bf2f28af61bf", "in_charge_of": ["68851e01-6af6-4c76-b8e8-19e246270528", "3e955d38-fffa-47dc-b3f1-284ea658b8ad"]}]
    })),
    responses((status = 200, body = Unit, description = "The node with its new leadership and `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 412), (status = 422)),
    security(("bearer" = [])))]
pub async fn put_leaders(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<Leaders>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let body = body.0;
    let unit = state
        .db
        .transaction(None, move |tx| {
            let conn = &mut *tx.conn;
            policy::authorize(conn, &who, Action::ManageOrganisation, id)?;
            let current = store::lock(conn, id)?;
            if_match.check(current.version)?;
            store::check_leaders(conn, id, &body)?;
            // Whoever gains, loses or changes a leadership here has their
            // standing changed: the caller must be allowed to act on them,
            // and never on themselves.
            for account in store::leaders_changed(conn, &current, &body)? {
                policy::forbid_own_standing(&who, account)?;
                let target = policy::AccountTarget::load(conn, account)?;
                policy::act_on_account(&who, Action::ManageAccount, &target)?;
            }
            store::set_leaders(conn, &current, &body)?;
            let unit = store::load_unit(conn, id)?;
            tx.audit.record(
                Some(who.account_id),
                "unit",
                Some(id),
                "set_leaders",
                crate::audit::state(&unit),
            );
            Ok(unit)
        })
        .await?;
    Ok(versioned(
        actix_web::http::StatusCode::OK,
        unit.version,
        &unit,
    ))
}

/// Read the principal and deputies of a node
///
/// System administrators, unit admins and inspectors whose scope holds the
/// node (403 `forbidden` to callers holding none of these roles; 404
/// `not_found` for a node unknown or outside their scope). Answers the head
/// of the node (`principal_id`, `null` when vacant) and its deputies in
/// order, each with the nodes it is in charge of.
#[utoipa::path(get, path = "/api/v1/units/{id}/leaders", operation_id = "getUnitLeaders", tag = "units", params(("id" = Uuid, Path)),
    responses((status = 200, body = Leaders, description = "The node's principal and deputies"), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get_leaders(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<web::Json<Leaders>, ApiError> {
    let id = id.into_inner();
    let unit = state
        .db
        .run(move |conn| {
            policy::authorize(conn, &who, Action::ReadOrganisation, id)?;
            store::load_unit(conn, id)
        })
        .await?;
    Ok(web::Json(Leaders {
        principal_id: unit.principal_id,
        deputies: unit.deputies,
    }))
}
