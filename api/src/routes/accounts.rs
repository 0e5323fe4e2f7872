//! Accounts: members of units, their passwords, suspension, import and roles.

use crate::error::ApiError;
use crate::extract::{AppState, IfMatch, Json, Principal, load_grants, versioned};
use crate::page::{PageParams, paginate};
use crate::policy::{self, Action, Scope};
use crate::store::Within;
use crate::store::accounts::{
    self as store, Account, AccountsUpload, CreateAccount, CreatedAccount, ImportResult,
    MAX_CSV_BYTES, PasswordReset, ResetPassword, RoleGrantBody, UpdateAccount, grants_body, hash,
    insert_account, load_account, to_account,
};
use crate::tx::{Claim, Tx};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

/// Create an account in a node
///
/// System administrators and unit admins whose scope holds `unit_id` (403
/// `forbidden` to callers holding neither role; 404 `not_found` for a node
/// unknown or outside their scope). `rank` (`clerk`, `section`, `division`,
/// `bureau`), `position` (`staff`, `department_head`, `deputy`, `principal`)
/// and the flags select which policy rules apply to the account; they make
/// no one an approver (approvers are the posts set with `setUnitLeaders`). The
/// login is stored in lower case. Without `password` one is generated and
/// answered once in `initial_password`: hand it over, it is not shown again.
/// The account starts with no role grants (`setAccountRoles`).
///
/// Answers 201 with the account and its `ETag`. 409 `duplicate` when the
/// login or the employee number is taken; 422 `validation_failed` for a bad
/// login, name, mobile number or password.
#[utoipa::path(post, path = "/api/v1/accounts", operation_id = "createAccount", tag = "accounts",
    request_body(content = CreateAccount, example = json!({
        "login": "zhang.wei",
        "display_name": "张伟",
        "unit_id": "68851e01-6af6-4c76-b8e8-19e246270528",
        "employee_no": "E1001",
        "mobile": "13800138000",
        "rank": "section",
        "position": "staff",
        "party_member": true,
        "public_official": true,
        "key_post": false
    })),
    responses((status = 201, body = CreatedAccount, description = "The new account with its `ETag`, and `initial_password` when one was generated"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409, description = "Login or employee number taken"), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    who: Principal,
    body: Json<CreateAccount>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    policy::require(&who, Action::ManageOrganisation)?;
    body.check()?;
    let created = state
        .db
        .transaction(claim, move |tx| {
            let conn = &mut *tx.conn;
            policy::authorize(conn, &who, Action::ManageOrganisation, body.unit_id)?;
            let (id, initial_password) = insert_account(conn, &body)?;
            let account = load_account(conn, id)?;
            tx.audit.record(
                Some(who.account_id),
                "account",
                Some(id),
                "create",
                crate::audit::state(&account),
            );
            Ok(CreatedAccount {
                account,
                initial_password,
            })
        })
        .await?;
    Ok(versioned(
        StatusCode::CREATED,
        created.account.version,
        &created,
    ))
}

/// Read an account
///
/// System administrators, unit admins and inspectors whose scope holds the
/// account's node (403 `forbidden` to callers holding none of these roles;
/// 404 `not_found` for an account unknown or outside their scope). An account
/// of no unit is visible only with a grant over the whole tree. Answers the
/// account with its role grants and its `ETag`.
#[utoipa::path(get, path = "/api/v1/accounts/{id}", operation_id = "getAccount", tag = "accounts", params(("id" = Uuid, Path)),
    responses((status = 200, body = Account, description = "The account, with its `ETag`"), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let account = state
        .db
        .run(move |conn| {
            let row = policy::readable_account(conn, &who, id)?;
            to_account(conn, row)
        })
        .await?;
    Ok(versioned(StatusCode::OK, account.version, &account))
}

/// Change an account's details or standing
///
/// System administrators and unit admins only (403 `forbidden` to anyone
/// else). Fields left out stay as they are. On their own account they may
/// change `display_name` and `mobile` and nothing else: `unit_id`,
/// `employee_no`, `rank`, `position` and the flags are the account's
/// *standing*, and no one changes their own (403 `self_change_forbidden`). On
/// another account their scope must hold its node (404 `not_found` otherwise)
/// and every node it leads, and be strictly wider than every grant it holds
/// (403 `forbidden` otherwise; a unit admin never acts on a system
/// administrator). Moving an account with `unit_id` needs scope over the new
/// node too.
///
/// Send the account's `ETag` in `If-Match` to change it only if nobody
/// changed it since (412 `precondition_failed`). Answers the account with its
/// new `ETag`; 409 `duplicate` when the employee number is taken, 422
/// `validation_failed` for a bad name or mobile number.
#[utoipa::path(patch, path = "/api/v1/accounts/{id}", operation_id = "updateAccount", tag = "accounts", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = UpdateAccount, example = json!({"rank": "division", "position": "department_head", "mobile": "13911112222"})),
    responses((status = 200, body = Account, description = "The changed account, with its new `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 412), (status = 422)),
    security(("bearer" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateAccount>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let body = body.0;
    policy::require(&who, Action::ManageAccount)?;
    let change = body.change();
    body.check()?;
    let account = state
        .db
        .transaction(None, move |tx| {
            let conn = &mut *tx.conn;
            let target = policy::AccountTarget::load(conn, id)?;
            policy::change_account(&who, Action::ManageAccount, &target, change)?;
            let current = store::lock(conn, id)?;
            if_match.check(current.version)?;
            if let Some(unit) = body.unit_id {
                policy::authorize(conn, &who, Action::ManageAccount, unit)?;
            }
            store::update(conn, &current, &body)?;
            let account = load_account(conn, id)?;
            tx.audit.record(
                Some(who.account_id),
                "account",
                Some(id),
                "update",
                crate::audit::state(&account),
            );
            Ok(account)
        })
        .await?;
    Ok(versioned(StatusCode::OK, account.version, &account))
}

/// Filters for the account list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AccountListParams {
    /// Only accounts in this unit's subtree.
    pub unit_id: Option<Uuid>,
    /// Only accounts whose login, name or employee number contains this text.
    pub q: Option<String>,
}

crate::page_schema!(
/// A page of accounts.
    AccountPage,
    Account,
    "Accounts, by login.",
    "Cursor of the next page."
);

/// List the accounts in the caller's scope
///
/// System administrators, unit admins and inspectors: the accounts whose node
/// lies in their scope, by login (403 `forbidden` to callers holding none of
/// these roles). `unit_id` keeps the accounts of that node's subtree (404
/// `not_found` for a node unknown or outside the caller's scope); `q` keeps
/// those whose login, name or employee number contains the text, ignoring
/// case. Accounts of no unit are not listed. One page per call, as `{items,
/// next_cursor}`: pass `next_cursor` back as `cursor` for the next page.
#[utoipa::path(get, path = "/api/v1/accounts", operation_id = "listAccounts", tag = "accounts", params(AccountListParams, PageParams),
    responses((status = 200, body = AccountPage, description = "A page of accounts, by login"), (status = 401), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    who: Principal,
    filter: web::Query<AccountListParams>,
    params: web::Query<PageParams>,
) -> Result<web::Json<AccountPage>, ApiError> {
    policy::require(&who, Action::ReadOrganisation)?;
    crate::extract::clean_query("q", filter.q.as_deref())?;
    let limit = params.limit()?;
    let after = params.after()?;
    let page = state
        .db
        .run(move |conn| {
            // Within the unit asked for, and always within the caller's scope.
            let asked = match filter.unit_id {
                Some(unit) => {
                    policy::authorize(conn, &who, Action::ReadOrganisation, unit)?;
                    Within::Subtree(unit)
                }
                None => Within::All,
            };
            let scope = match policy::scope(&who, Action::ReadOrganisation).roots() {
                Some(roots) => Within::Roots(roots),
                None => Within::All,
            };
            let rows = store::page(
                conn,
                [&asked, &scope],
                filter.q.as_deref(),
                after.as_deref(),
                limit + 1,
            )?;
            let (rows, next_cursor) = paginate(rows, limit, |r| r.login.clone());
            let items = rows
                .into_iter()
                .map(|r| to_account(conn, r))
                .collect::<Result<_, _>>()?;
            Ok(AccountPage { items, next_cursor })
        })
        .await?;
    Ok(web::Json(page))
}

fn set_status(
    tx: &mut Tx<'_>,
    who: &Principal,
    id: Uuid,
    status: &str,
    if_match: &IfMatch,
) -> Result<Account, ApiError> {
    let conn = &mut *tx.conn;
    let current = policy::managed_account(conn, who, Action::ManageAccount, id)?;
    if_match.check(current.version)?;
    store::set_status(conn, &current, status)?;
    crate::sessions::end_all(conn, id, None)?;
    let account = load_account(conn, id)?;
    tx.audit.record(
        Some(who.account_id),
        "account",
        Some(id),
        status,
        crate::audit::state(&account),
    );
    Ok(account)
}

/// Suspend an account
///
/// System administrators and unit admins allowed to act on the account:
/// their scope must hold its node (404 `not_found` otherwise) and every node
/// it leads, and be strictly wider than every grant it holds (403 `forbidden`
/// otherwise; a unit admin never acts on a system administrator). No one does
/// this to their own account (403 `self_change_forbidden`).
///
/// Every session of the account ends at once: its refresh tokens are refused
/// and its access tokens stop working. A suspended account that logs in gets
/// the same answer as a wrong password. Accepts `If-Match` (412
/// `precondition_failed`). Answers the account with its new `ETag`.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/suspend", operation_id = "suspendAccount", tag = "accounts", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Account, description = "The suspended account, with its new `ETag`"), (status = 401), (status = 403), (status = 404), (status = 409), (status = 412)),
    security(("bearer" = [])))]
pub async fn suspend(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let account = state
        .db
        .transaction(claim, move |tx| {
            set_status(tx, &who, id, "suspended", &if_match)
        })
        .await?;
    Ok(versioned(StatusCode::OK, account.version, &account))
}

/// Reactivate a suspended account
///
/// System administrators and unit admins allowed to act on the account:
/// their scope must hold its node (404 `not_found` otherwise) and every node
/// it leads, and be strictly wider than every grant it holds (403 `forbidden`
/// otherwise; a unit admin never acts on a system administrator). No one does
/// this to their own account (403 `self_change_forbidden`).
///
/// The account may log in again; sessions that ended stay ended. Accepts
/// `If-Match` (412 `precondition_failed`). Answers the account with its new
/// `ETag`.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/reactivate", operation_id = "reactivateAccount", tag = "accounts", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Account, description = "The active account, with its new `ETag`"), (status = 401), (status = 403), (status = 404), (status = 409), (status = 412)),
    security(("bearer" = [])))]
pub async fn reactivate(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let account = state
        .db
        .transaction(claim, move |tx| {
            set_status(tx, &who, id, "active", &if_match)
        })
        .await?;
    Ok(versioned(StatusCode::OK, account.version, &account))
}

/// Reset an account's password
///
/// System administrators and unit admins allowed to act on the account:
/// their scope must hold its node (404 `not_found` otherwise) and every node
/// it leads, and be strictly wider than every grant it holds (403 `forbidden`
/// otherwise; a unit admin never acts on a system administrator). No one does
/// this to their own account (403 `self_change_forbidden`).
///
/// Sets the `password` given, or a generated one when the body or `password`
/// is absent, and answers it once: hand it over, it is not shown again. Every
/// session of the account ends at once. The body is optional; a `password`
/// must be 10 to 128 characters holding letters and something else (422
/// `validation_failed`). Accepts `If-Match` (412 `precondition_failed`).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/reset-password", operation_id = "resetAccountPassword", tag = "accounts", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = Option<ResetPassword>, example = json!({"password": "Chaoyang#2027"})),
    responses((status = 200, body = PasswordReset, description = "The new password, shown only this once"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 412), (status = 422)),
    security(("bearer" = [])))]
pub async fn reset_password(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: crate::extract::Body<{ crate::extract::MAX_JSON_BYTES }>,
    claim: Option<Claim>,
) -> Result<web::Json<PasswordReset>, ApiError> {
    let id = id.into_inner();
    let password = ResetPassword::chosen_or_new(&body.0)?;
    let password_hash = hash(&password)?;
    state
        .db
        .transaction(claim, move |tx| {
            let conn = &mut *tx.conn;
            let current = policy::managed_account(conn, &who, Action::ManageAccount, id)?;
            if_match.check(current.version)?;
            store::set_password(conn, &current, &password_hash)?;
            crate::sessions::end_all(conn, id, None)?;
            tx.audit.record(
                Some(who.account_id),
                "account",
                Some(id),
                "reset_password",
                serde_json::json!({}),
            );
            Ok(())
        })
        .await?;
    Ok(web::Json(PasswordReset { password }))
}

/// Read an account's role grants
///
/// Readers as for `getAccount`: system administrators, unit admins and
/// inspectors whose scope holds the account's node (403 `forbidden` to
/// callers holding none of these roles; 404 `not_found` outside scope).
/// Answers each grant: a `role` (`unit_admin`, `inspector` or
/// `system_admin`) over the subtree under `unit_id` (`null`: a system
/// administrator over the whole tree).
#[utoipa::path(get, path = "/api/v1/accounts/{id}/roles", operation_id = "getAccountRoles", tag = "accounts", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<RoleGrantBody>, description = "The account's role grants"), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get_roles(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<web::Json<Vec<RoleGrantBody>>, ApiError> {
    let id = id.into_inner();
    let roles = state
        .db
        .run(move |conn| {
            policy::readable_account(conn, &who, id)?;
            Ok(grants_body(load_grants(conn, id)?))
        })
        .await?;
    Ok(web::Json(roles))
}

/// Replace an account's role grants
///
/// System administrators only (403 `forbidden` to everyone else), allowed to
/// act on the account: their scope must hold its node (404 `not_found`
/// otherwise) and every node it leads, and be strictly wider than every grant
/// it holds now (403 `forbidden` otherwise). No one changes their own grants
/// (403 `self_change_forbidden`).
///
/// The list replaces every grant of the account; an empty list removes them
/// all. A grant covers the subtree under its `unit_id`, which must lie in the
/// caller's scope (404 `not_found` otherwise). Only `system_admin` may have
/// `unit_id: null` (the whole tree), and only a caller with a grant over the
/// whole tree gives one (403 `forbidden`). At most 100 grants, and every role
/// but `system_admin` needs a `unit_id` (422 `validation_failed` otherwise).
/// Answers the grants the account now holds.
#[utoipa::path(put, path = "/api/v1/accounts/{id}/roles", operation_id = "setAccountRoles", tag = "accounts", params(("id" = Uuid, Path)),
    request_body(content = Vec<RoleGrantBody>, example = json!([
        {"role": "unit_admin", "unit_id": "a34d5473-f579-4ed8-8487-9ffe8826b5f9"},
        {"role": "inspector", "unit_id": "a2ad893b-a7e8-4523-800b-c6171480a6f3"}
    ])),
    responses((status = 200, body = Vec<RoleGrantBody>, description = "The grants the account now holds"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn put_roles(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    body: Json<Vec<RoleGrantBody>>,
) -> Result<web::Json<Vec<RoleGrantBody>>, ApiError> {
    let id = id.into_inner();
    let grants = store::checked_grants(body.0)?;
    let roles = state
        .db
        .transaction(None, move |tx| {
            let conn = &mut *tx.conn;
            policy::managed_account(conn, &who, Action::GrantRoles, id)?;
            for grant in &grants {
                match grant.unit_id {
                    None if policy::scope(&who, Action::GrantRoles) != Scope::Tree => {
                        return Err(ApiError::Forbidden);
                    }
                    None => {}
                    Some(unit) => policy::authorize(conn, &who, Action::GrantRoles, unit)?,
                }
            }
            store::set_roles(conn, id, &grants)?;
            let roles = grants_body(load_grants(conn, id)?);
            tx.audit.record(
                Some(who.account_id),
                "account",
                Some(id),
                "set_roles",
                crate::audit::state(&roles),
            );
            Ok(roles)
        })
        .await?;
    Ok(web::Json(roles))
}

/// Import accounts from a CSV file
///
/// System administrators and unit admins (403 `forbidden` to callers holding
/// neither role). Send the file as `multipart/form-data` in a part named
/// `file` (the raw CSV as `text/csv` is accepted too). The CSV is UTF-8 with a
/// header row; the columns are `login, display_name, unit_code, employee_no,
/// mobile, rank, position, party_member, public_official, key_post`, of which
/// `login`, `display_name`, `unit_code`, `rank` and `position` are required;
/// the flags read `true`/`false`, `yes`/`no`, `1`/`0` or `是`/`否`.
///
/// Each row is created or rejected on its own, and the answer lists every
/// row: a row is rejected when a field is bad, the login or employee number is
/// taken, or `unit_code` names no node in the caller's scope. Passwords are
/// generated and answered once in `initial_passwords`: hand them over, they
/// are not shown again. A file that is not UTF-8 or lacks a required column
/// answers 400 `malformed_request`; more than 10,000 rows, 413
/// `payload_too_large`.
#[utoipa::path(post, path = "/api/v1/accounts/import", operation_id = "importAccounts", tag = "accounts", request_body(content = AccountsUpload, content_type = "multipart/form-data"),
    responses((status = 200, body = ImportResult, description = "The outcome of every row, and the generated passwords"), (status = 400), (status = 401), (status = 403), (status = 413), (status = 415), (status = 422, description = "No `file` part in the upload")),
    security(("bearer" = [])))]
pub async fn import(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
    body: crate::extract::Body<MAX_CSV_BYTES>,
) -> Result<web::Json<ImportResult>, ApiError> {
    policy::require(&who, Action::ManageOrganisation)?;
    let body = crate::upload::csv_file(&req, body.0).await?;
    let parsed = store::parse_csv(&body)?;
    let result = state
        .db
        .run(move |conn| Ok(store::import(conn, &who, parsed)))
        .await?;
    Ok(web::Json(result))
}
