//! Sign-in as stored: the account a login names, refresh tokens and the sessions they belong to.

use crate::error::ApiError;
use crate::schema::{accounts, refresh_tokens, sessions};
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
