//! Credentials: argon2id password hashes, short-lived JWT access tokens with a
//! pinned algorithm, issuer and audience, and opaque refresh tokens that are
//! stored hashed and rotate on every use.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;
use uuid::Uuid;

/// The `iss` of every access token.
pub const ISSUER: &str = "whereabouts";
/// The `aud` of every access token.
pub const AUDIENCE: &str = "whereabouts-api";
/// The `aud` of every `mfa_token`: a token of the first step of a login,
/// which no other route takes.
pub const CHALLENGE_AUDIENCE: &str = "whereabouts-mfa";
/// The one algorithm accepted.
pub const ALGORITHM: Algorithm = Algorithm::HS256;

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The account id.
    pub sub: Uuid,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Expiry (seconds).
    pub exp: i64,
    /// When the account's credentials last changed (microseconds); a token from
    /// before a password change or suspension no longer matches.
    pub cv: i64,
    /// The session the token belongs to; once it ends, the token is refused.
    pub sid: Uuid,
}

/// Claims of an `mfa_token`: the password was right, the second factor is
/// still to come.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChallengeClaims {
    /// The account id.
    pub sub: Uuid,
    /// Issuer.
    pub iss: String,
    /// Audience: [`CHALLENGE_AUDIENCE`].
    pub aud: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Expiry (seconds).
    pub exp: i64,
    /// When the account's credentials last changed (microseconds), as in
    /// [`Claims::cv`].
    pub cv: i64,
}

/// Signing and verifying keys for access tokens and `mfa_token`s.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    challenge_validation: Validation,
}

/// Why a token was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Past its expiry.
    Expired,
    /// Bad signature, algorithm, issuer, audience or shape.
    Invalid,
}

impl Keys {
    /// Keys from a shared secret.
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        let mut challenge_validation = validation.clone();
        challenge_validation.set_audience(&[CHALLENGE_AUDIENCE]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            challenge_validation,
        }
    }

    /// Issues an `mfa_token` for an account whose password was right.
    pub fn issue_challenge(
        &self,
        account_id: Uuid,
        credentials_changed_at: DateTime<Utc>,
        now: DateTime<Utc>,
        ttl_seconds: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = ChallengeClaims {
            sub: account_id,
            iss: ISSUER.to_owned(),
            aud: CHALLENGE_AUDIENCE.to_owned(),
            iat: now.timestamp(),
            exp: now.timestamp() + ttl_seconds,
            cv: credentials_changed_at.timestamp_micros(),
        };
        jsonwebtoken::encode(&Header::new(ALGORITHM), &claims, &self.encoding)
    }

    /// Verifies an `mfa_token`; an access token is no `mfa_token`, nor the
    /// other way round.
    pub fn verify_challenge(&self, token: &str) -> Result<ChallengeClaims, TokenError> {
        self.decode(token, &self.challenge_validation)
    }

    /// Issues an access token for a session of an account.
    pub fn issue(
        &self,
        account_id: Uuid,
        session_id: Uuid,
        credentials_changed_at: DateTime<Utc>,
        now: DateTime<Utc>,
        ttl_seconds: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            sub: account_id,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now.timestamp(),
            exp: now.timestamp() + ttl_seconds,
            cv: credentials_changed_at.timestamp_micros(),
            sid: session_id,
        };
        jsonwebtoken::encode(&Header::new(ALGORITHM), &claims, &self.encoding)
    }

    /// Verifies an access token.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        self.decode(token, &self.validation)
    }

    /// The claims of a token that verifies under `validation`.
    fn decode<C: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        validation: &Validation,
    ) -> Result<C, TokenError> {
        jsonwebtoken::decode::<C>(token, &self.decoding, validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

static HASHER: LazyLock<Argon2<'static>> = LazyLock::new(Argon2::default);

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)?;
    Ok(HASHER
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// A hash that never verifies, used to spend the same time on unknown logins.
pub static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("not a password of anybody").unwrap_or_default());

/// Whether a password matches its stored hash.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|hash| HASHER.verify_password(password.as_bytes(), &hash).is_ok())
        .unwrap_or(false)
}

/// A fresh opaque token (refresh tokens, generated passwords).
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// The stored form of a refresh token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The rules a new password must meet: 10 to 128 characters, and not only digits
/// or only letters.
pub fn password_problem(password: &str) -> Option<serde_json::Value> {
    let length = password.chars().count();
    if length < 10 {
        return Some(serde_json::json!({"min": 10}));
    }
    if length > 128 {
        return Some(serde_json::json!({"max": 128}));
    }
    let has_letter = password.chars().any(char::is_alphabetic);
    let has_other = password.chars().any(|c| !c.is_alphabetic());
    (!(has_letter && has_other)).then(|| serde_json::json!({"mix": "letters_and_digits"}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("correct horse 1").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse 1", &hash));
        assert!(!verify_password("correct horse 2", &hash));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn tokens_round_trip_and_expire() {
        let keys = Keys::new(b"0123456789abcdef0123456789abcdef");
        let now = Utc::now();
        let id = Uuid::new_v4();
        let session = Uuid::new_v4();
        let token = keys.issue(id, session, now, now, 60).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!((claims.sub, claims.sid), (id, session));
        let old = keys
            .issue(id, session, now, now - Duration::hours(1), 60)
            .unwrap();
        assert_eq!(keys.verify(&old).unwrap_err(), TokenError::Expired);
        let other = Keys::new(b"another key another key another k");
        assert_eq!(other.verify(&token).unwrap_err(), TokenError::Invalid);
    }

    #[test]
    fn challenges_and_access_tokens_are_not_interchangeable() {
        let keys = Keys::new(b"0123456789abcdef0123456789abcdef");
        let now = Utc::now();
        let id = Uuid::new_v4();
        let challenge = keys.issue_challenge(id, now, now, 300).unwrap();
        assert_eq!(keys.verify_challenge(&challenge).unwrap().sub, id);
        assert_eq!(keys.verify(&challenge).unwrap_err(), TokenError::Invalid);
        let access = keys.issue(id, Uuid::new_v4(), now, now, 60).unwrap();
        assert_eq!(
            keys.verify_challenge(&access).unwrap_err(),
            TokenError::Invalid
        );
        let old = keys
            .issue_challenge(id, now, now - Duration::hours(1), 300)
            .unwrap();
        assert_eq!(
            keys.verify_challenge(&old).unwrap_err(),
            TokenError::Expired
        );
    }

    #[test]
    fn password_rules() {
        assert!(password_problem("short1").is_some());
        assert!(password_problem("onlyletterslong").is_some());
        assert!(password_problem("12345678901").is_some());
        assert!(password_problem("letters and 1 digit").is_none());
    }
}
