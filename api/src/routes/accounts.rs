//! Accounts: members of units with rank, position and flags, their passwords,
//! suspension, CSV import and role grants.

use crate::auth;
use crate::error::ApiError;
use crate::extract::{AppState, IfMatch, Json, Principal, etag, load_grants};
use crate::page::{PageParams, paginate};
use crate::policy::{self, AccountChange, Action, Scope};
use crate::schema::{accounts, role_grants, units};
use crate::store::accounts::{
    Account, AccountRow, RoleGrantBody, grants_body, load_account, to_account,
};
use crate::tx::Claim;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Uuid as SqlUuid};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use whereabouts_core::{Issue, IssueCode, Position, Rank, Role};

fn respond(account: &Account, status: StatusCode) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("ETag", etag(account.version)))
        .json(account)
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateAccount {
    /// Login: letters, digits, `_`, `.`, `@`, `-`, up to 64 (stored in lower case).
    pub login: String,
    /// Name shown to others, 1 to 100 characters.
    pub display_name: String,
    /// The node the account belongs to.
    pub unit_id: Uuid,
    /// Employee number, unique.
    pub employee_no: Option<String>,
    /// Mobile number.
    pub mobile: Option<String>,
    /// Rank.
    pub rank: Rank,
    /// Position.
    pub position: Position,
    /// Party member (default false).
    #[serde(default)]
    pub party_member: bool,
    /// Public official (default true).
    #[serde(default = "yes")]
    pub public_official: bool,
    /// Key or classified post (default false).
    #[serde(default)]
    pub key_post: bool,
    /// Initial password; generated and answered once when absent.
    pub password: Option<String>,
}

fn yes() -> bool {
    true
}

/// A created account, with its generated password when none was given.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedAccount {
    /// The account.
    #[serde(flatten)]
    pub account: Account,
    /// The generated password, shown only this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_password: Option<String>,
}

/// Checks the text fields of an account; returns every issue.
fn check_fields(
    login: Option<&str>,
    display_name: Option<&str>,
    employee_no: Option<&str>,
    mobile: Option<&str>,
    password: Option<&str>,
) -> Vec<Issue> {
    let mut issues = Vec::new();
    let mut push =
        |code, field: &str, params| issues.push(Issue::new(code, Some(field.to_owned()), params));
    if let Some(login) = login {
        let login = login.trim();
        if login.is_empty() {
            push(IssueCode::Required, "login", json!({}));
        } else if login.len() > 64
            || !login
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '-'))
        {
            push(
                IssueCode::Invalid,
                "login",
                json!({"pattern": "^[A-Za-z0-9_.@-]{1,64}$"}),
            );
        }
    }
    if let Some(issue) =
        display_name.and_then(|name| crate::input::name_issue("display_name", name, 100))
    {
        push(issue.code, "display_name", issue.params);
    }
    if let Some(no) = employee_no
        && (no.trim().is_empty() || no.chars().count() > 64)
    {
        push(IssueCode::Invalid, "employee_no", json!({"max": 64}));
    }
    if let Some(mobile) = mobile
        && !whereabouts_core::assessment::phone_is_valid(mobile)
    {
        push(IssueCode::PhoneInvalid, "mobile", json!({}));
    }
    if let Some(password) = password
        && let Some(params) = auth::password_problem(password)
    {
        push(IssueCode::Invalid, "password", params);
    }
    issues
}

#[derive(Insertable)]
#[diesel(table_name = accounts)]
struct AccountInsertForm<'a> {
    id: Uuid,
    login: &'a str,
    display_name: &'a str,
    unit_id: Option<Uuid>,
    employee_no: Option<&'a str>,
    mobile: Option<&'a str>,
    rank: &'a str,
    position: &'a str,
    party_member: bool,
    public_official: bool,
    key_post: bool,
    password_hash: &'a str,
}

fn hash(password: &str) -> Result<String, ApiError> {
    auth::hash_password(password).map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        ApiError::Internal
    })
}

/// Inserts a checked account; answers the generated password if one was made.
fn insert_account(
    conn: &mut PgConnection,
    body: &CreateAccount,
) -> Result<(Uuid, Option<String>), ApiError> {
    let (password, generated) = match &body.password {
        Some(p) => (p.clone(), None),
        None => {
            let p = auth::random_token(12);
            (p.clone(), Some(p))
        }
    };
    let password_hash = hash(&password)?;
    let id = Uuid::new_v4();
    let login = body.login.trim().to_lowercase();
    diesel::insert_into(accounts::table)
        .values(AccountInsertForm {
            id,
            login: &login,
            display_name: body.display_name.trim(),
            unit_id: Some(body.unit_id),
            employee_no: body.employee_no.as_deref().map(str::trim),
            mobile: body.mobile.as_deref().map(str::trim),
            rank: body.rank.as_str(),
            position: body.position.as_str(),
            party_member: body.party_member,
            public_official: body.public_official,
            key_post: body.key_post,
            password_hash: &password_hash,
        })
        .execute(conn)?;
    Ok((id, generated))
}

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
    let issues = check_fields(
        Some(&body.login),
        Some(&body.display_name),
        body.employee_no.as_deref(),
        body.mobile.as_deref(),
        body.password.as_deref(),
    );
    if !issues.is_empty() {
        return Err(ApiError::Validation(issues));
    }
    let created = state
        .db
        .transaction(claim, move |tx| {
            let conn = &mut *tx.conn;
            policy::authorize(conn, &who, Action::ManageOrganisation, body.unit_id)?;
            let (id, initial_password) = insert_account(conn, &body)?;
            Ok(CreatedAccount {
                account: {
                    let account = load_account(conn, id)?;
                    tx.audit.record(
                        Some(who.account_id),
                        "account",
                        Some(id),
                        "create",
                        crate::audit::state(&account),
                    );
                    account
                },
                initial_password,
            })
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("ETag", etag(created.account.version)))
        .json(created))
}

/// Loads an account the caller may read: readers of its home unit's scope; an
/// account of no unit is only visible over the whole tree.
fn readable_account(
    conn: &mut PgConnection,
    who: &Principal,
    id: Uuid,
) -> Result<AccountRow, ApiError> {
    policy::require(who, Action::ReadOrganisation)?;
    let row: AccountRow = accounts::table
        .find(id)
        .select(AccountRow::as_select())
        .first(conn)?;
    match row.unit_id {
        Some(unit) => policy::authorize(conn, who, Action::ReadOrganisation, unit)?,
        None if policy::scope(who, Action::ReadOrganisation) == Scope::Tree => {}
        None => return Err(ApiError::NotFound),
    }
    Ok(row)
}

/// Loads an account the caller may take `action` on, locked for the change:
/// the policy weighs its home unit, its grants and its leadership.
fn managed_account(
    conn: &mut PgConnection,
    who: &Principal,
    action: Action,
    id: Uuid,
) -> Result<AccountRow, ApiError> {
    policy::require(who, action)?;
    let target = policy::AccountTarget::load(conn, id)?;
    policy::act_on_account(who, action, &target)?;
    Ok(accounts::table
        .find(id)
        .select(AccountRow::as_select())
        .for_update()
        .first(conn)?)
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
            let row = readable_account(conn, &who, id)?;
            to_account(conn, row)
        })
        .await?;
    Ok(respond(&account, StatusCode::OK))
}

/// Changes to an account; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateAccount {
    /// New name.
    pub display_name: Option<String>,
    /// Move to another node (the caller must administer both).
    pub unit_id: Option<Uuid>,
    /// New employee number.
    pub employee_no: Option<String>,
    /// New mobile number.
    pub mobile: Option<String>,
    /// New rank.
    pub rank: Option<Rank>,
    /// New position.
    pub position: Option<Position>,
    /// Party member.
    pub party_member: Option<bool>,
    /// Public official.
    pub public_official: Option<bool>,
    /// Key or classified post.
    pub key_post: Option<bool>,
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
    let change = if body.rank.is_some()
        || body.position.is_some()
        || body.unit_id.is_some()
        || body.employee_no.is_some()
        || body.party_member.is_some()
        || body.public_official.is_some()
        || body.key_post.is_some()
    {
        AccountChange::Standing
    } else {
        AccountChange::Details
    };
    let issues = check_fields(
        None,
        body.display_name.as_deref(),
        body.employee_no.as_deref(),
        body.mobile.as_deref(),
        None,
    );
    if !issues.is_empty() {
        return Err(ApiError::Validation(issues));
    }
    let account = state
        .db
        .transaction(None, move |tx| {
            let conn = &mut *tx.conn;
            let target = policy::AccountTarget::load(conn, id)?;
            policy::change_account(&who, Action::ManageAccount, &target, change)?;
            let current: AccountRow = accounts::table
                .find(id)
                .select(AccountRow::as_select())
                .for_update()
                .first(conn)?;
            if_match.check(current.version)?;
            if let Some(unit) = body.unit_id {
                policy::authorize(conn, &who, Action::ManageAccount, unit)?;
            }
            diesel::update(accounts::table.find(id))
                .set((
                    accounts::display_name.eq(body
                        .display_name
                        .as_deref()
                        .map(str::trim)
                        .unwrap_or(&current.display_name)),
                    accounts::unit_id.eq(body.unit_id.or(current.unit_id)),
                    accounts::employee_no.eq(body
                        .employee_no
                        .as_deref()
                        .map(str::trim)
                        .or(current.employee_no.as_deref())),
                    accounts::mobile.eq(body
                        .mobile
                        .as_deref()
                        .map(str::trim)
                        .or(current.mobile.as_deref())),
                    accounts::rank.eq(body.rank.map(Rank::as_str).unwrap_or(&current.rank)),
                    accounts::position.eq(body
                        .position
                        .map(Position::as_str)
                        .unwrap_or(&current.position)),
                    accounts::party_member.eq(body.party_member.unwrap_or(current.party_member)),
                    accounts::public_official
                        .eq(body.public_official.unwrap_or(current.public_official)),
                    accounts::key_post.eq(body.key_post.unwrap_or(current.key_post)),
                    accounts::version.eq(current.version + 1),
                    accounts::updated_at.eq(diesel::dsl::now),
                ))
                .execute(conn)?;
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
    Ok(respond(&account, StatusCode::OK))
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
            let mut query = accounts::table
                .inner_join(units::table)
                .select(AccountRow::as_select())
                .into_boxed();
            if let Some(unit) = filter.unit_id {
                policy::authorize(conn, &who, Action::ReadOrganisation, unit)?;
                query = query
                    .filter(sql::<Bool>("units.path @> ").bind::<Array<SqlUuid>, _>(vec![unit]));
            }
            if let Some(roots) = policy::scope(&who, Action::ReadOrganisation).roots() {
                query =
                    query.filter(sql::<Bool>("units.path && ").bind::<Array<SqlUuid>, _>(roots));
            }
            if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                let pattern = format!(
                    "%{}%",
                    q.replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_")
                );
                query = query.filter(
                    accounts::login
                        .ilike(pattern.clone())
                        .or(accounts::display_name.ilike(pattern.clone()))
                        .or(accounts::employee_no.ilike(pattern)),
                );
            }
            if let Some(after) = after {
                query = query.filter(accounts::login.gt(after));
            }
            let rows: Vec<AccountRow> = query
                .order(accounts::login.asc())
                .limit(limit + 1)
                .load(conn)?;
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
    conn: &mut PgConnection,
    audit: &mut crate::audit::Entries,
    who: &Principal,
    id: Uuid,
    status: &str,
    if_match: &IfMatch,
) -> Result<Account, ApiError> {
    let current = managed_account(conn, who, Action::ManageAccount, id)?;
    if_match.check(current.version)?;
    diesel::update(accounts::table.find(id))
        .set((
            accounts::status.eq(status),
            accounts::credentials_changed_at.eq(diesel::dsl::now),
            accounts::version.eq(current.version + 1),
            accounts::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    crate::sessions::end_all(conn, id, None)?;
    let account = load_account(conn, id)?;
    audit.record(
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
            set_status(tx.conn, &mut tx.audit, &who, id, "suspended", &if_match)
        })
        .await?;
    Ok(respond(&account, StatusCode::OK))
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
            set_status(tx.conn, &mut tx.audit, &who, id, "active", &if_match)
        })
        .await?;
    Ok(respond(&account, StatusCode::OK))
}

/// A new password chosen by the administrator, or generated.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetPassword {
    /// The new password; generated when absent.
    pub password: Option<String>,
}

/// The password after a reset.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasswordReset {
    /// The new password, shown only this once.
    pub password: String,
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
    let body = body.0;
    let body: ResetPassword = if body.iter().all(u8::is_ascii_whitespace) {
        ResetPassword { password: None }
    } else {
        crate::extract::parse_json(&body)?
    };
    let password = match body.password {
        Some(p) => {
            if let Some(params) = auth::password_problem(&p) {
                return Err(ApiError::invalid(IssueCode::Invalid, "password", params));
            }
            p
        }
        None => auth::random_token(12),
    };
    let password_hash = hash(&password)?;
    state
        .db
        .transaction(claim, move |tx| {
            let conn = &mut *tx.conn;
            let current = managed_account(conn, &who, Action::ManageAccount, id)?;
            if_match.check(current.version)?;
            diesel::update(accounts::table.find(id))
                .set((
                    accounts::password_hash.eq(password_hash),
                    accounts::credentials_changed_at.eq(diesel::dsl::now),
                    accounts::version.eq(current.version + 1),
                    accounts::updated_at.eq(diesel::dsl::now),
                ))
                .execute(conn)?;
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
            readable_account(conn, &who, id)?;
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
    let mut grants = body.0;
    if grants.len() > 100 {
        return Err(ApiError::invalid(
            IssueCode::TooLong,
            "",
            json!({"max": 100}),
        ));
    }
    for (i, grant) in grants.iter().enumerate() {
        if grant.unit_id.is_none() && grant.role != Role::SystemAdmin {
            return Err(ApiError::invalid(
                IssueCode::Required,
                &format!("[{i}].unit_id"),
                json!({}),
            ));
        }
    }
    grants.dedup();
    let roles = state
        .db
        .transaction(None, move |tx| {
            let conn = &mut *tx.conn;
            managed_account(conn, &who, Action::GrantRoles, id)?;
            for grant in &grants {
                match grant.unit_id {
                    None if policy::scope(&who, Action::GrantRoles) != Scope::Tree => {
                        return Err(ApiError::Forbidden);
                    }
                    None => {}
                    Some(unit) => policy::authorize(conn, &who, Action::GrantRoles, unit)?,
                }
            }
            diesel::delete(role_grants::table.filter(role_grants::account_id.eq(id)))
                .execute(conn)?;
            for grant in &grants {
                diesel::insert_into(role_grants::table)
                    .values((
                        role_grants::account_id.eq(id),
                        role_grants::role.eq(grant.role.as_str()),
                        role_grants::unit_id.eq(grant.unit_id),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)?;
            }
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

/// The outcome of one CSV row.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportRow {
    /// Row number in the file, the header being row 1.
    pub row: usize,
    /// `created` or `rejected`.
    pub status: String,
    /// The new account.
    pub account_id: Option<Uuid>,
    /// The login of the row.
    pub login: Option<String>,
    /// Why the row was rejected.
    pub errors: Vec<Issue>,
}

/// The result of an import.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportResult {
    /// Rows created.
    pub created: usize,
    /// Rows rejected.
    pub rejected: usize,
    /// One entry per data row.
    pub rows: Vec<ImportRow>,
    /// Generated passwords by login, shown only this once.
    pub initial_passwords: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct CsvAccount {
    login: String,
    display_name: String,
    unit_code: String,
    #[serde(default)]
    employee_no: Option<String>,
    #[serde(default)]
    mobile: Option<String>,
    rank: String,
    position: String,
    #[serde(default)]
    party_member: Option<String>,
    #[serde(default)]
    public_official: Option<String>,
    #[serde(default)]
    key_post: Option<String>,
}

/// Largest CSV accepted, in bytes.
pub const MAX_CSV_BYTES: usize = 5 * 1024 * 1024;

fn flag(value: &Option<String>, default: bool, field: &str, issues: &mut Vec<Issue>) -> bool {
    match value
        .as_deref()
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") => default,
        Some("true" | "yes" | "1" | "y" | "是") => true,
        Some("false" | "no" | "0" | "n" | "否") => false,
        Some(_) => {
            issues.push(Issue::new(
                IssueCode::Invalid,
                Some(field.to_owned()),
                json!({"reason": "not_a_boolean"}),
            ));
            default
        }
    }
}

/// An accounts import sent as a file upload (`multipart/form-data`).
#[derive(Debug, ToSchema)]
pub struct AccountsUpload {
    /// The accounts as CSV with a header row.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
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
    let is_csv = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/csv"));
    let body = if crate::upload::is_multipart(&req) {
        crate::upload::read(&req, body.0)
            .await?
            .file
            .ok_or_else(|| ApiError::invalid(IssueCode::Required, "file", json!({})))?
    } else if is_csv {
        body.0
    } else {
        return Err(ApiError::UnsupportedMediaType);
    };
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::Malformed("the CSV is not UTF-8".into()))?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader
        .headers()
        .map_err(|_| ApiError::Malformed("the CSV has no header row".into()))?
        .clone();
    for required in ["login", "display_name", "unit_code", "rank", "position"] {
        if !headers.iter().any(|h| h == required) {
            return Err(ApiError::Malformed(format!(
                "the CSV header lacks {required}"
            )));
        }
    }
    let mut parsed = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 2;
        let result = record
            .map_err(|e| {
                vec![Issue::new(
                    IssueCode::Invalid,
                    None,
                    json!({"reason": e.to_string()}),
                )]
            })
            .and_then(|r| {
                r.deserialize::<CsvAccount>(Some(&headers)).map_err(|_| {
                    vec![Issue::new(
                        IssueCode::Invalid,
                        None,
                        json!({"reason": "row_shape"}),
                    )]
                })
            });
        parsed.push((row, result));
    }
    if parsed.len() > 10_000 {
        return Err(ApiError::PayloadTooLarge);
    }
    let result = state
        .db
        .run(move |conn| {
            let mut out = ImportResult {
                created: 0,
                rejected: 0,
                rows: Vec::new(),
                initial_passwords: Default::default(),
            };
            for (row, record) in parsed {
                let outcome = record.and_then(|r| import_row(conn, &who, &r));
                match outcome {
                    Ok((account_id, login, password)) => {
                        out.created += 1;
                        out.initial_passwords.insert(login.clone(), password);
                        out.rows.push(ImportRow {
                            row,
                            status: "created".into(),
                            account_id: Some(account_id),
                            login: Some(login),
                            errors: vec![],
                        });
                    }
                    Err(errors) => {
                        out.rejected += 1;
                        out.rows.push(ImportRow {
                            row,
                            status: "rejected".into(),
                            account_id: None,
                            login: None,
                            errors,
                        });
                    }
                }
            }
            Ok(out)
        })
        .await?;
    Ok(web::Json(result))
}

fn import_row(
    conn: &mut PgConnection,
    who: &Principal,
    r: &CsvAccount,
) -> Result<(Uuid, String, String), Vec<Issue>> {
    let mut issues = check_fields(
        Some(&r.login),
        Some(&r.display_name),
        r.employee_no.as_deref().filter(|s| !s.is_empty()),
        r.mobile.as_deref().filter(|s| !s.is_empty()),
        None,
    );
    let rank: Option<Rank> = serde_json::from_value(json!(r.rank)).ok();
    if rank.is_none() {
        issues.push(Issue::new(
            IssueCode::Invalid,
            Some("rank".into()),
            json!({"reason": "unknown_value"}),
        ));
    }
    let position: Option<Position> = serde_json::from_value(json!(r.position)).ok();
    if position.is_none() {
        issues.push(Issue::new(
            IssueCode::Invalid,
            Some("position".into()),
            json!({"reason": "unknown_value"}),
        ));
    }
    let party_member = flag(&r.party_member, false, "party_member", &mut issues);
    let public_official = flag(&r.public_official, true, "public_official", &mut issues);
    let key_post = flag(&r.key_post, false, "key_post", &mut issues);
    let unit: Option<Uuid> = units::table
        .filter(units::code.eq(&r.unit_code))
        .select(units::id)
        .first(conn)
        .optional()
        .map_err(|_| {
            vec![Issue::new(
                IssueCode::Invalid,
                None,
                json!({"reason": "database"}),
            )]
        })?;
    let unit = match unit {
        Some(unit)
            if policy::covers(conn, who, Action::ManageOrganisation, unit).unwrap_or(false) =>
        {
            Some(unit)
        }
        _ => {
            issues.push(Issue::new(
                IssueCode::Invalid,
                Some("unit_code".into()),
                json!({"reason": "unknown_unit"}),
            ));
            None
        }
    };
    let (Some(rank), Some(position), Some(unit_id), true) =
        (rank, position, unit, issues.is_empty())
    else {
        return Err(issues);
    };
    let body = CreateAccount {
        login: r.login.clone(),
        display_name: r.display_name.clone(),
        unit_id,
        employee_no: r.employee_no.clone().filter(|s| !s.is_empty()),
        mobile: r.mobile.clone().filter(|s| !s.is_empty()),
        rank,
        position,
        party_member,
        public_official,
        key_post,
        password: None,
    };
    crate::tx::run(conn, None, |tx| {
        let conn = &mut *tx.conn;
        let created = insert_account(conn, &body)?;
        tx.audit.record(
            Some(who.account_id),
            "account",
            Some(created.0),
            "import",
            serde_json::json!({"login": body.login.trim().to_lowercase(), "unit_id": body.unit_id}),
        );
        Ok(created)
    })
    .map(|(id, password)| {
        (
            id,
            body.login.trim().to_lowercase(),
            password.unwrap_or_default(),
        )
    })
    .map_err(|e| {
        let reason = match e {
            ApiError::Conflict(_) => "duplicate",
            _ => "not_stored",
        };
        vec![Issue::new(
            IssueCode::Invalid,
            Some("login".into()),
            json!({"reason": reason}),
        )]
    })
}

/// Creates a system administrator over the whole tree (the `create-admin`
/// command). Answers the new account's id.
pub fn create_admin(
    conn: &mut PgConnection,
    login: &str,
    password: &str,
) -> Result<Uuid, ApiError> {
    let issues = check_fields(Some(login), None, None, None, Some(password));
    if !issues.is_empty() {
        return Err(ApiError::Validation(issues));
    }
    let password_hash = hash(password)?;
    crate::tx::run(conn, None, |tx| {
        let conn = &mut *tx.conn;
        let id = Uuid::new_v4();
        let login = login.trim().to_lowercase();
        diesel::insert_into(accounts::table)
            .values(AccountInsertForm {
                id,
                login: &login,
                display_name: &login,
                unit_id: None,
                employee_no: None,
                mobile: None,
                rank: Rank::Clerk.as_str(),
                position: Position::Staff.as_str(),
                party_member: false,
                public_official: false,
                key_post: false,
                password_hash: &password_hash,
            })
            .execute(conn)?;
        diesel::insert_into(role_grants::table)
            .values((
                role_grants::account_id.eq(id),
                role_grants::role.eq(Role::SystemAdmin.as_str()),
            ))
            .execute(conn)?;
        tx.audit.record(
            None,
            "account",
            Some(id),
            "create_admin",
            serde_json::json!({"login": login}),
        );
        Ok(id)
    })
}
