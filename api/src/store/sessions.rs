//! Sign-in as stored: the account a login names, refresh tokens and the sessions they belong to,
//! and the caller an access token names.

use crate::error::ApiError;
use crate::extract::Grant;
use crate::schema::{accounts, mfa_totp, refresh_tokens, role_grants, sessions};
use crate::store::accounts::parse_grant;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

/// What a login checks of the account it names.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct Credentials {
    /// The account.
    pub id: Uuid,
    /// Its password hash.
    pub password_hash: String,
    /// `active` or `suspended`.
    pub status: String,
    /// When its password or status last changed; older tokens are refused.
    pub credentials_changed_at: DateTime<Utc>,
    /// Its node.
    pub unit_id: Option<Uuid>,
}

/// The credentials of the account whose login is `login` (already in lower
/// case), if there is one.
pub fn credentials(conn: &mut PgConnection, login: &str) -> Result<Option<Credentials>, ApiError> {
    Ok(accounts::table
        .filter(accounts::login.eq(login))
        .select(Credentials::as_select())
        .first(conn)
        .optional()?)
}

/// The credentials of an account by its id, if there is one.
pub fn credentials_of(
    conn: &mut PgConnection,
    account_id: Uuid,
) -> Result<Option<Credentials>, ApiError> {
    Ok(accounts::table
        .find(account_id)
        .select(Credentials::as_select())
        .first(conn)
        .optional()?)
}

/// A stored refresh token, with when its session ended.
#[derive(Debug, Queryable)]
pub struct RefreshToken {
    /// The token's id.
    pub id: Uuid,
    /// The session it belongs to (its family).
    pub session_id: Uuid,
    /// The account it was issued to.
    pub account_id: Uuid,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// When it was traded for a new pair.
    pub spent_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When its session ended.
    pub session_ended_at: Option<DateTime<Utc>>,
    /// When its session started.
    pub session_created_at: DateTime<Utc>,
    /// When its session was last used.
    pub session_last_used_at: DateTime<Utc>,
}

/// The refresh token whose hash is `hash`, locked for the rest of the
/// transaction, if there is one.
pub fn refresh_token(
    conn: &mut PgConnection,
    hash: &[u8],
) -> Result<Option<RefreshToken>, ApiError> {
    Ok(refresh_tokens::table
        .inner_join(sessions::table)
        .filter(refresh_tokens::token_hash.eq(hash))
        .select((
            refresh_tokens::id,
            refresh_tokens::family_id,
            refresh_tokens::account_id,
            refresh_tokens::expires_at,
            refresh_tokens::spent_at,
            refresh_tokens::revoked_at,
            sessions::ended_at,
            sessions::created_at,
            sessions::last_used_at,
        ))
        .for_update()
        .first(conn)
        .optional()?)
}

/// What a refresh checks of the token's account.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct Standing {
    /// `active` or `suspended`.
    pub status: String,
    /// When its password or status last changed; older tokens are refused.
    pub credentials_changed_at: DateTime<Utc>,
}

/// The standing of an account (404 for an unknown one).
pub fn standing(conn: &mut PgConnection, account_id: Uuid) -> Result<Standing, ApiError> {
    Ok(accounts::table
        .find(account_id)
        .select(Standing::as_select())
        .first(conn)?)
}

/// Marks a refresh token spent, now.
pub fn spend_refresh_token(conn: &mut PgConnection, id: Uuid) -> Result<(), ApiError> {
    diesel::update(refresh_tokens::table.find(id))
        .set(refresh_tokens::spent_at.eq(diesel::dsl::now))
        .execute(conn)?;
    Ok(())
}

/// The session of the refresh token whose hash is `hash`, whatever state
/// either is in, if there is such a token.
pub fn session_of_refresh_token(
    conn: &mut PgConnection,
    hash: &[u8],
) -> Result<Option<Uuid>, ApiError> {
    Ok(refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash))
        .select(refresh_tokens::family_id)
        .first(conn)
        .optional()?)
}

/// Starts a session for an account, from where it started; answers its id.
pub fn start_session(
    conn: &mut PgConnection,
    account_id: Uuid,
    user_agent: Option<&str>,
    address: Option<&str>,
) -> Result<Uuid, ApiError> {
    Ok(diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(Uuid::new_v4()),
            sessions::account_id.eq(account_id),
            sessions::user_agent.eq(user_agent),
            sessions::address.eq(address),
        ))
        .returning(sessions::id)
        .get_result(conn)?)
}

/// Records that a session was used, now.
pub fn touch_session(conn: &mut PgConnection, session_id: Uuid) -> Result<(), ApiError> {
    diesel::update(sessions::table.find(session_id))
        .set(sessions::last_used_at.eq(diesel::dsl::now))
        .execute(conn)?;
    Ok(())
}

/// Ends a session, now, if it is live, and revokes its refresh tokens not
/// revoked yet.
pub fn end_session(conn: &mut PgConnection, session_id: Uuid) -> Result<(), ApiError> {
    diesel::update(
        sessions::table
            .find(session_id)
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(diesel::dsl::now))
    .execute(conn)?;
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(session_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(diesel::dsl::now))
    .execute(conn)?;
    Ok(())
}

/// Ends every live session of an account but `keep`, now, and revokes every
/// refresh token of the account not revoked yet, `keep`'s too.
pub fn end_sessions_of(
    conn: &mut PgConnection,
    account_id: Uuid,
    keep: Option<Uuid>,
) -> Result<(), ApiError> {
    diesel::update(
        sessions::table
            .filter(sessions::account_id.eq(account_id))
            .filter(sessions::ended_at.is_null())
            .filter(sessions::id.ne(keep.unwrap_or_default())),
    )
    .set(sessions::ended_at.eq(diesel::dsl::now))
    .execute(conn)?;
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::account_id.eq(account_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(diesel::dsl::now))
    .execute(conn)?;
    Ok(())
}

/// Ends every live session of an account but `keep`, now, with their
/// refresh tokens; `keep` and its refresh token stay as they are.
pub fn end_other_sessions(
    conn: &mut PgConnection,
    account_id: Uuid,
    keep: Uuid,
) -> Result<(), ApiError> {
    diesel::update(
        sessions::table
            .filter(sessions::account_id.eq(account_id))
            .filter(sessions::ended_at.is_null())
            .filter(sessions::id.ne(keep)),
    )
    .set(sessions::ended_at.eq(diesel::dsl::now))
    .execute(conn)?;
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::account_id.eq(account_id))
            .filter(refresh_tokens::family_id.ne(keep))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(diesel::dsl::now))
    .execute(conn)?;
    Ok(())
}

/// Stores a new refresh token of a session, by its hash.
pub fn add_refresh_token(
    conn: &mut PgConnection,
    session_id: Uuid,
    account_id: Uuid,
    hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<(), ApiError> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(Uuid::new_v4()),
            refresh_tokens::family_id.eq(session_id),
            refresh_tokens::account_id.eq(account_id),
            refresh_tokens::token_hash.eq(hash),
            refresh_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// What the check of an access token reads of the account it names.
#[derive(Debug)]
pub struct Caller {
    /// The account's node.
    pub unit_id: Option<Uuid>,
    /// `active` or `suspended`.
    pub status: String,
    /// When its password or status last changed; older tokens are refused.
    pub credentials_changed_at: DateTime<Utc>,
    /// Whether the token's session is the account's and has not ended.
    pub session_live: bool,
    /// Whether the account has a confirmed second factor.
    pub mfa_enrolled: bool,
    /// The account's role grants (those of a role this server knows).
    pub grants: Vec<Grant>,
}

/// An account's node, status and credential change, whether the token's
/// session is live, whether it has a second factor, and one of its grants.
type CallerGrant = (
    Option<Uuid>,
    String,
    DateTime<Utc>,
    bool,
    bool,
    Option<String>,
    Option<Uuid>,
);

/// Which sessions are alive at a moment: not ended, used since
/// `used_after` and started since `started_after`.
#[derive(Debug, Clone, Copy)]
pub struct Alive {
    /// A session unused since then has ended by being idle.
    pub used_after: DateTime<Utc>,
    /// A session started before then has ended by its age.
    pub started_after: DateTime<Utc>,
}

impl Alive {
    /// Whether a session started and last used at these times is alive.
    pub fn holds(&self, created_at: DateTime<Utc>, last_used_at: DateTime<Utc>) -> bool {
        created_at > self.started_after && last_used_at > self.used_after
    }
}

/// The sessions of `account_id` alive under `alive`, as one condition: the
/// check of every token, the account's list and ending one read the same.
fn live_of(
    account_id: Uuid,
    alive: Alive,
) -> Box<dyn BoxableExpression<sessions::table, diesel::pg::Pg, SqlType = diesel::sql_types::Bool>>
{
    Box::new(
        sessions::account_id
            .eq(account_id)
            .and(sessions::ended_at.is_null())
            .and(sessions::last_used_at.gt(alive.used_after))
            .and(sessions::created_at.gt(alive.started_after)),
    )
}

/// The account `account_id` as the check of a token of its session
/// `session_id` reads it, if there is such an account. One query: it runs on
/// every authenticated request.
pub fn caller(
    conn: &mut PgConnection,
    account_id: Uuid,
    session_id: Uuid,
    alive: Alive,
) -> Result<Option<Caller>, ApiError> {
    let session_live = diesel::dsl::exists(
        sessions::table
            .filter(sessions::id.eq(session_id))
            // As `live_of`, written out: a boxed condition cannot sit in
            // this correlated subquery.
            .filter(sessions::account_id.eq(account_id))
            .filter(sessions::ended_at.is_null())
            .filter(sessions::last_used_at.gt(alive.used_after))
            .filter(sessions::created_at.gt(alive.started_after)),
    );
    let mfa_enrolled = diesel::dsl::exists(
        mfa_totp::table
            .filter(mfa_totp::account_id.eq(account_id))
            .filter(mfa_totp::confirmed_at.is_not_null()),
    );
    // The account, its session, its second factor and its grants in one
    // query: one row per grant, or one row with no grant.
    let rows: Vec<CallerGrant> = accounts::table
        .left_join(role_grants::table)
        .filter(accounts::id.eq(account_id))
        .select((
            accounts::unit_id,
            accounts::status,
            accounts::credentials_changed_at,
            session_live,
            mfa_enrolled,
            role_grants::role.nullable(),
            role_grants::unit_id.nullable(),
        ))
        .load(conn)?;
    let Some((unit_id, status, credentials_changed_at, session_live, mfa_enrolled, _, _)) =
        rows.first()
    else {
        return Ok(None);
    };
    Ok(Some(Caller {
        unit_id: *unit_id,
        status: status.clone(),
        credentials_changed_at: *credentials_changed_at,
        session_live: *session_live,
        mfa_enrolled: *mfa_enrolled,
        grants: rows
            .into_iter()
            .filter_map(|(_, _, _, _, _, role, unit_id)| parse_grant(role?, unit_id))
            .collect(),
    }))
}

/// A session as its account's list shows it.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    /// The session.
    pub id: Uuid,
    /// When its login was.
    pub created_at: DateTime<Utc>,
    /// When it was last used (its login or its last refresh).
    pub last_used_at: DateTime<Utc>,
    /// The user agent of its login.
    pub user_agent: Option<String>,
    /// The address of its login.
    pub address: Option<String>,
}

/// The live sessions of an account, the most recently used first.
pub fn live_sessions(
    conn: &mut PgConnection,
    account_id: Uuid,
    alive: Alive,
) -> Result<Vec<SessionRow>, ApiError> {
    Ok(sessions::table
        .filter(live_of(account_id, alive))
        .order((sessions::last_used_at.desc(), sessions::id))
        .select(SessionRow::as_select())
        .load(conn)?)
}

/// Whether `session_id` is a live session of `account_id`.
pub fn is_live_session_of(
    conn: &mut PgConnection,
    account_id: Uuid,
    session_id: Uuid,
    alive: Alive,
) -> Result<bool, ApiError> {
    Ok(diesel::select(diesel::dsl::exists(
        sessions::table
            .filter(sessions::id.eq(session_id))
            .filter(live_of(account_id, alive)),
    ))
    .get_result(conn)?)
}
