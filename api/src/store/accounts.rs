//! Accounts as stored and answered: a row, its role grants and the `Account`
//! built from them; new accounts (checked, hashed, inserted), status changes,
//! the CSV import's rows, and the first administrator.

use crate::auth;
use crate::error::ApiError;
use crate::extract::{Grant, Principal};
use crate::policy::{self, AccountChange, Action};
use crate::schema::{accounts, role_grants, units};
use crate::store::enums::parse_enum;
use crate::store::{Within, like_pattern};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;
use whereabouts_core::{Issue, IssueCode, Position, Rank, Role};

/// An account row, without its password hash.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct AccountRow {
    pub id: Uuid,
    pub login: String,
    pub display_name: String,
    pub unit_id: Option<Uuid>,
    pub employee_no: Option<String>,
    pub mobile: Option<String>,
    pub rank: String,
    pub position: String,
    pub party_member: bool,
    pub public_official: bool,
    pub key_post: bool,
    pub status: String,
    pub credentials_changed_at: DateTime<Utc>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A role grant on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoleGrantBody {
    /// The role.
    pub role: Role,
    /// Root of the subtree; `null` only for a system administrator over the whole tree.
    pub unit_id: Option<Uuid>,
}

/// Account status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// May log in.
    Active,
    /// Cut off.
    Suspended,
}

/// An account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Account {
    /// Id.
    pub id: Uuid,
    /// Login name.
    pub login: String,
    /// Name shown to others.
    pub display_name: String,
    /// The node the account belongs to.
    pub unit_id: Option<Uuid>,
    /// Employee number.
    pub employee_no: Option<String>,
    /// Mobile number.
    pub mobile: Option<String>,
    /// Rank.
    pub rank: Rank,
    /// Position.
    pub position: Position,
    /// Party member.
    pub party_member: bool,
    /// Public official.
    pub public_official: bool,
    /// Key or classified post.
    pub key_post: bool,
    /// Active or suspended.
    pub status: AccountStatus,
    /// Role grants.
    pub roles: Vec<RoleGrantBody>,
    /// Version, also the `ETag`.
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The role grants of an account (those of a role this server knows).
pub fn grants(conn: &mut PgConnection, account_id: Uuid) -> Result<Vec<Grant>, ApiError> {
    let rows: Vec<(String, Option<Uuid>)> = role_grants::table
        .filter(role_grants::account_id.eq(account_id))
        .select((role_grants::role, role_grants::unit_id))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(role, unit_id)| parse_grant(role, unit_id))
        .collect())
}

/// A stored role grant, or none for a role this server does not know.
pub fn parse_grant(role: String, unit_id: Option<Uuid>) -> Option<Grant> {
    serde_json::from_value::<Role>(serde_json::Value::String(role))
        .ok()
        .map(|role| Grant { role, unit_id })
}

/// The role grants of an account on the wire.
pub fn grants_body(grants: Vec<Grant>) -> Vec<RoleGrantBody> {
    grants
        .into_iter()
        .map(|g| RoleGrantBody {
            role: g.role,
            unit_id: g.unit_id,
        })
        .collect()
}

/// Builds the answer for an account row.
pub fn to_account(conn: &mut PgConnection, row: AccountRow) -> Result<Account, ApiError> {
    let roles = grants_body(grants(conn, row.id)?);
    Ok(Account {
        rank: parse_enum(&row.rank)?,
        position: parse_enum(&row.position)?,
        status: parse_enum(&row.status)?,
        roles,
        id: row.id,
        login: row.login,
        display_name: row.display_name,
        unit_id: row.unit_id,
        employee_no: row.employee_no,
        mobile: row.mobile,
        party_member: row.party_member,
        public_official: row.public_official,
        key_post: row.key_post,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// Loads one account.
pub fn load_account(conn: &mut PgConnection, id: Uuid) -> Result<Account, ApiError> {
    let row = accounts::table
        .find(id)
        .select(AccountRow::as_select())
        .first(conn)?;
    to_account(conn, row)
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

pub fn yes() -> bool {
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
pub fn check_fields(
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

/// A new account's row, as inserted.
#[derive(Insertable)]
#[diesel(table_name = accounts)]
pub struct AccountInsertForm<'a> {
    pub id: Uuid,
    pub login: &'a str,
    pub display_name: &'a str,
    pub unit_id: Option<Uuid>,
    pub employee_no: Option<&'a str>,
    pub mobile: Option<&'a str>,
    pub rank: &'a str,
    pub position: &'a str,
    pub party_member: bool,
    pub public_official: bool,
    pub key_post: bool,
    pub password_hash: &'a str,
}

pub fn hash(password: &str) -> Result<String, ApiError> {
    auth::hash_password(password).map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        ApiError::Internal
    })
}

/// Inserts a checked account; answers the generated password if one was made.
pub fn insert_account(
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
    insert(
        conn,
        &[AccountInsertForm {
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
        }],
    )?;
    Ok((id, generated))
}

/// Inserts accounts whose fields are checked and passwords hashed, in one
/// statement (409 `duplicate` when a login is taken). At most 5,000 at a
/// time: a statement binds at most 65,535 values.
pub fn insert(conn: &mut PgConnection, accounts: &[AccountInsertForm<'_>]) -> Result<(), ApiError> {
    diesel::insert_into(accounts::table)
        .values(accounts)
        .execute(conn)?;
    Ok(())
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
pub struct CsvAccount {
    pub login: String,
    pub display_name: String,
    pub unit_code: String,
    #[serde(default)]
    pub employee_no: Option<String>,
    #[serde(default)]
    pub mobile: Option<String>,
    pub rank: String,
    pub position: String,
    #[serde(default)]
    pub party_member: Option<String>,
    #[serde(default)]
    pub public_official: Option<String>,
    #[serde(default)]
    pub key_post: Option<String>,
}

/// Largest CSV accepted, in bytes.
pub const MAX_CSV_BYTES: usize = 5 * 1024 * 1024;

pub fn flag(value: &Option<String>, default: bool, field: &str, issues: &mut Vec<Issue>) -> bool {
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

pub fn import_row(
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
        insert(
            conn,
            &[AccountInsertForm {
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
            }],
        )?;
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

/// An account's row, locked for the rest of the transaction.
pub fn lock(conn: &mut PgConnection, id: Uuid) -> Result<AccountRow, ApiError> {
    Ok(accounts::table
        .find(id)
        .select(AccountRow::as_select())
        .for_update()
        .first(conn)?)
}

/// An account's password hash, its row locked for the rest of the
/// transaction (404 for an unknown account).
pub fn locked_password_hash(conn: &mut PgConnection, id: Uuid) -> Result<String, ApiError> {
    Ok(accounts::table
        .find(id)
        .select(accounts::password_hash)
        .for_update()
        .first(conn)?)
}

/// Sets an account's password (its hash), for the account itself: its
/// tokens stop at once, its version stays. Answers when its credentials
/// changed.
pub fn change_password(
    conn: &mut PgConnection,
    id: Uuid,
    password_hash: &str,
) -> Result<DateTime<Utc>, ApiError> {
    Ok(diesel::update(accounts::table.find(id))
        .set((
            accounts::password_hash.eq(password_hash),
            accounts::credentials_changed_at.eq(diesel::dsl::now),
            accounts::updated_at.eq(diesel::dsl::now),
        ))
        .returning(accounts::credentials_changed_at)
        .get_result(conn)?)
}

/// The node an account belongs to, `None` for an account of no unit (404
/// for an unknown account).
pub fn unit_of(conn: &mut PgConnection, id: Uuid) -> Result<Option<Uuid>, ApiError> {
    Ok(accounts::table
        .find(id)
        .select(accounts::unit_id)
        .first(conn)?)
}

/// Writes the changes of `body` over the locked row `current`; fields left
/// out keep their values.
pub fn update(
    conn: &mut PgConnection,
    current: &AccountRow,
    body: &UpdateAccount,
) -> QueryResult<()> {
    diesel::update(accounts::table.find(current.id))
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
            accounts::public_official.eq(body.public_official.unwrap_or(current.public_official)),
            accounts::key_post.eq(body.key_post.unwrap_or(current.key_post)),
            accounts::version.eq(current.version + 1),
            accounts::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Replaces an account's role grants.
pub fn set_roles(conn: &mut PgConnection, id: Uuid, grants: &[RoleGrantBody]) -> QueryResult<()> {
    diesel::delete(role_grants::table.filter(role_grants::account_id.eq(id))).execute(conn)?;
    let rows: Vec<_> = grants
        .iter()
        .map(|grant| {
            (
                role_grants::account_id.eq(id),
                role_grants::role.eq(grant.role.as_str()),
                role_grants::unit_id.eq(grant.unit_id),
            )
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(role_grants::table)
            .values(rows)
            .on_conflict_do_nothing()
            .execute(conn)?;
    }
    Ok(())
}

/// A row of an account CSV: its number, and the account read or its issues.
pub type CsvRow = (usize, Result<CsvAccount, Vec<Issue>>);

/// The rows of an account CSV, numbered as a spreadsheet shows them (the
/// header is row 1), each read or refused on its own. A file that is not
/// UTF-8 or lacks a required column is refused whole (400).
pub fn parse_csv(body: &[u8]) -> Result<Vec<CsvRow>, ApiError> {
    let text = std::str::from_utf8(body)
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
    Ok(parsed)
}

/// Creates the accounts of parsed CSV rows, each row on its own: created, or
/// rejected with its issues.
pub fn import(conn: &mut PgConnection, who: &Principal, parsed: Vec<CsvRow>) -> ImportResult {
    let mut out = ImportResult {
        created: 0,
        rejected: 0,
        rows: Vec::new(),
        initial_passwords: Default::default(),
    };
    for (row, record) in parsed {
        let outcome = record.and_then(|r| import_row(conn, who, &r));
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
    out
}

/// An account's row.
pub fn row(conn: &mut PgConnection, id: Uuid) -> Result<AccountRow, ApiError> {
    Ok(accounts::table
        .find(id)
        .select(AccountRow::as_select())
        .first(conn)?)
}

/// Sets the status of the locked account `current`; its tokens stop at once.
pub fn set_status(conn: &mut PgConnection, current: &AccountRow, status: &str) -> QueryResult<()> {
    diesel::update(accounts::table.find(current.id))
        .set((
            accounts::status.eq(status),
            accounts::credentials_changed_at.eq(diesel::dsl::now),
            accounts::version.eq(current.version + 1),
            accounts::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Sets the password (its hash) of the locked account `current`; its tokens
/// stop at once.
pub fn set_password(
    conn: &mut PgConnection,
    current: &AccountRow,
    password_hash: &str,
) -> QueryResult<()> {
    diesel::update(accounts::table.find(current.id))
        .set((
            accounts::password_hash.eq(password_hash),
            accounts::credentials_changed_at.eq(diesel::dsl::now),
            accounts::version.eq(current.version + 1),
            accounts::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Up to `limit` accounts of nodes within every part of the tree in
/// `within`, whose login, name or employee number contains `q`, after the
/// login `after`, by login.
pub fn page(
    conn: &mut PgConnection,
    within: [&Within; 2],
    q: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<AccountRow>> {
    let mut query = accounts::table
        .inner_join(units::table)
        .select(AccountRow::as_select())
        .into_boxed();
    for part in within {
        if let Some(condition) = part.condition("units.path") {
            query = query.filter(condition);
        }
    }
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = like_pattern(q);
        query = query.filter(
            accounts::login
                .ilike(pattern.clone())
                .or(accounts::display_name.ilike(pattern.clone()))
                .or(accounts::employee_no.ilike(pattern)),
        );
    }
    if let Some(after) = after {
        query = query.filter(accounts::login.gt(after.to_owned()));
    }
    query.order(accounts::login.asc()).limit(limit).load(conn)
}

impl CreateAccount {
    /// Checks the fields of a new account (422 with every issue).
    pub fn check(&self) -> Result<(), ApiError> {
        let issues = check_fields(
            Some(&self.login),
            Some(&self.display_name),
            self.employee_no.as_deref(),
            self.mobile.as_deref(),
            self.password.as_deref(),
        );
        if issues.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(issues))
        }
    }
}

impl UpdateAccount {
    /// What the change touches: the account's standing (its rank, position,
    /// node, employee number or flags), or only its details.
    pub fn change(&self) -> AccountChange {
        if self.rank.is_some()
            || self.position.is_some()
            || self.unit_id.is_some()
            || self.employee_no.is_some()
            || self.party_member.is_some()
            || self.public_official.is_some()
            || self.key_post.is_some()
        {
            AccountChange::Standing
        } else {
            AccountChange::Details
        }
    }

    /// Checks the fields given (422 with every issue).
    pub fn check(&self) -> Result<(), ApiError> {
        let issues = check_fields(
            None,
            self.display_name.as_deref(),
            self.employee_no.as_deref(),
            self.mobile.as_deref(),
            None,
        );
        if issues.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(issues))
        }
    }
}

impl ResetPassword {
    /// The new password of a reset body: the one chosen, checked (422), or
    /// a generated one when the body names none or is empty.
    pub fn chosen_or_new(body: &[u8]) -> Result<String, ApiError> {
        let body: ResetPassword = if body.iter().all(u8::is_ascii_whitespace) {
            ResetPassword { password: None }
        } else {
            crate::extract::parse_json(body)?
        };
        match body.password {
            Some(p) => match auth::password_problem(&p) {
                Some(params) => Err(ApiError::invalid(IssueCode::Invalid, "password", params)),
                None => Ok(p),
            },
            None => Ok(auth::random_token(12)),
        }
    }
}

/// Role grants as asked for: at most 100, each over a node but a system
/// administrator's, each once in a row (422).
pub fn checked_grants(mut grants: Vec<RoleGrantBody>) -> Result<Vec<RoleGrantBody>, ApiError> {
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
    Ok(grants)
}
