//! The second factor: TOTP (RFC 6238) as authenticator apps expect it —
//! HMAC-SHA-1, 6 digits, 30-second steps — and single-use recovery codes.
//!
//! A secret is 20 random bytes, kept sealed under the document key
//! ([`crate::seal`]) and bound to its account. A code is accepted for the
//! step it was made for and the one either side (a phone's clock may be
//! off by up to 30 seconds), and only for a step after the last one accepted,
//! so no code is taken twice, not even within its window. Recovery codes are
//! ten random groups of letters and digits, stored as a SHA-256 over the
//! account and the code; each works once.

use crate::access::{self, Access, Entry, Requester};
use crate::config::Config;
use crate::error::{ApiError, ProblemCode};
use crate::seal;
use crate::store::mfa::{self as store, Enrolment};
use crate::throttle::{self, LoginBuckets};
use chrono::{DateTime, Utc};
use diesel::PgConnection;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, TOTP};
use utoipa::ToSchema;
use uuid::Uuid;
use whereabouts_core::IssueCode;

/// Digits of a code.
pub const DIGITS: usize = 6;
/// Seconds of a step.
pub const STEP_SECONDS: u64 = 30;
/// Steps either side of now whose code is still accepted.
pub const SKEW_STEPS: u8 = 1;
/// Bytes of a secret (RFC 4226 recommends 160 bits).
pub const SECRET_BYTES: usize = 20;
/// Recovery codes given at enrolment.
pub const RECOVERY_CODES: usize = 10;
/// The issuer an authenticator app shows.
pub const ISSUER: &str = "Whereabouts";
/// Seconds an `mfa_token` stays valid.
pub const CHALLENGE_SECONDS: i64 = 300;
/// Longest code accepted as input: anything longer is no code.
pub const MAX_CODE_CHARS: usize = 64;

/// The characters of a recovery code: no `0`/`o`, `1`/`l`/`i` to confuse.
const RECOVERY_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
/// A recovery code's length, without its dash.
const RECOVERY_CHARS: usize = 10;

/// A fresh secret.
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rng().fill(&mut secret[..]);
    secret
}

/// The generator of a secret, labelled with the account's login.
fn totp(secret: &[u8], login: &str) -> Result<TOTP, ApiError> {
    // A login holds no ':' (it would split the label), but never fail on one.
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        SKEW_STEPS,
        STEP_SECONDS,
        secret.to_vec(),
        Some(ISSUER.to_owned()),
        login.replace(':', "_"),
    )
    .map_err(ApiError::internal("making a TOTP generator"))
}

/// What an authenticator app is given: the secret in base32 and the
/// `otpauth://` URI that carries it (for a QR code).
pub fn provisioning(secret: &[u8], login: &str) -> Result<(String, String), ApiError> {
    let totp = totp(secret, login)?;
    Ok((totp.get_secret_base32(), totp.get_url()))
}

/// The step a moment falls in.
pub fn step_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(STEP_SECONDS as i64)
}

/// The step whose code `code` is, among the steps around `at`, if any is
/// after `last_step`: the code is then accepted, and the step becomes the
/// account's last. The comparison takes the same time whatever matches.
pub fn accepted_step(
    secret: &[u8],
    code: &str,
    at: DateTime<Utc>,
    last_step: Option<i64>,
) -> Result<Option<i64>, ApiError> {
    let totp = totp(secret, "")?;
    let now = step_of(at);
    let skew = i64::from(SKEW_STEPS);
    let mut found = None;
    for step in now - skew..=now + skew {
        let Ok(time) = u64::try_from(step * STEP_SECONDS as i64) else {
            continue;
        };
        let matches = constant_time_eq(totp.generate(time).as_bytes(), code.as_bytes());
        if matches && last_step.is_none_or(|last| step > last) && found.is_none() {
            found = Some(step);
        }
    }
    Ok(found)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A code as a person types it, without spaces and dashes, in lower case.
fn plain(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// A code as sent: six digits are a TOTP code, anything else of a recovery
/// code's shape a recovery code, in its normal form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// A TOTP code.
    Totp(String),
    /// A recovery code, in lower case without separators.
    Recovery(String),
    /// Neither: it cannot be right.
    Neither,
}

impl Code {
    /// Reads a code as a person types it: spaces and dashes are ignored,
    /// letters in either case. 422 for an empty or an overlong one.
    pub fn parse(input: &str) -> Result<Self, ApiError> {
        if input.chars().count() > MAX_CODE_CHARS {
            return Err(ApiError::invalid(
                IssueCode::Invalid,
                "code",
                serde_json::json!({"max": MAX_CODE_CHARS}),
            ));
        }
        let plain = plain(input);
        if plain.is_empty() {
            return Err(ApiError::invalid(
                IssueCode::Required,
                "code",
                serde_json::json!({}),
            ));
        }
        Ok(
            if plain.len() == DIGITS && plain.bytes().all(|b| b.is_ascii_digit()) {
                Code::Totp(plain)
            } else if plain.len() == RECOVERY_CHARS
                && plain.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))
            {
                Code::Recovery(plain)
            } else {
                Code::Neither
            },
        )
    }
}

/// Fresh recovery codes, as shown to their account: `xxxxx-xxxxx`.
pub fn new_recovery_codes() -> Vec<String> {
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..RECOVERY_CHARS)
                .map(|_| {
                    char::from(RECOVERY_ALPHABET[rng.random_range(0..RECOVERY_ALPHABET.len())])
                })
                .collect();
            format!(
                "{}-{}",
                &chars[..RECOVERY_CHARS / 2],
                &chars[RECOVERY_CHARS / 2..]
            )
        })
        .collect()
}

/// The stored form of an account's recovery code (in any form it was typed).
pub fn recovery_hash(account_id: Uuid, code: &str) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(account_id.as_bytes());
    hasher.update(plain(code).as_bytes());
    hasher.finalize().to_vec()
}

fn place(account_id: Uuid) -> Vec<u8> {
    format!("mfa_totp:{account_id}").into_bytes()
}

/// A secret sealed for its account's row.
pub fn seal_secret(key: &[u8; 32], account_id: Uuid, secret: &[u8]) -> Result<Vec<u8>, ApiError> {
    seal::seal(key, &place(account_id), secret).ok_or_else(|| ApiError::broken("sealing a secret"))
}

/// The secret of an account's row; a row that does not open (another key,
/// another row's value) is a broken server, not a wrong code.
pub fn open_secret(key: &[u8; 32], account_id: Uuid, sealed: &[u8]) -> Result<Vec<u8>, ApiError> {
    seal::open(key, &place(account_id), sealed).ok_or_else(|| ApiError::broken("a TOTP secret"))
}

/// The answer to a wrong code.
pub fn wrong_code() -> ApiError {
    ApiError::Unauthorized(ProblemCode::InvalidCode)
}

/// An account's second factor as the account sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MfaStatus {
    /// Whether a TOTP second factor is enrolled (confirmed): logins then ask
    /// for a code.
    pub enrolled: bool,
    /// Whether one of the account's roles must enrol one
    /// (`WHEREABOUTS_MFA_REQUIRED_ROLES`): until it does, every route but
    /// `/me`, `/me/mfa/*` and `/auth/*` answers 403 `mfa_enrollment_required`.
    pub required: bool,
    /// Recovery codes not used yet.
    pub recovery_codes_left: i64,
}

/// The caller's second factor.
pub fn status(
    conn: &mut PgConnection,
    config: &Config,
    who: &crate::extract::Principal,
) -> Result<MfaStatus, ApiError> {
    Ok(MfaStatus {
        enrolled: store::is_enrolled(conn, who.account_id)?,
        required: crate::policy::second_factor_required(&who.grants, &config.mfa_required_roles),
        recovery_codes_left: store::recovery_codes_left(conn, who.account_id)?,
    })
}

/// Removes the second factor of the account `login` and ends every session
/// of it, for an operator at the console (`whereabouts reset-mfa`): the way
/// back in for the last administrator who lost both the authenticator and
/// the recovery codes. Answers whether the account had one; `None` for an
/// unknown login.
pub fn reset_from_console(conn: &mut PgConnection, login: &str) -> Result<Option<bool>, ApiError> {
    let login = login.trim().to_lowercase();
    crate::tx::run(conn, None, |tx| {
        let Some(account) = crate::store::sessions::credentials(tx.conn, &login)? else {
            return Ok(None);
        };
        let had = store::remove(tx.conn, account.id)?;
        crate::sessions::end_all(tx.conn, account.id, None)?;
        tx.audit.record(
            None,
            "account",
            Some(account.id),
            "mfa_reset",
            serde_json::json!({"had_second_factor": had, "from": "console"}),
        );
        Ok(Some(had))
    })
}

/// One attempt at a code of an account: who, from where, counted in which
/// buckets, and what the access log says about a wrong one.
pub struct Attempt<'a> {
    /// The account whose code it is.
    pub account_id: Uuid,
    /// The account's node, for the access log's scope.
    pub unit_id: Option<Uuid>,
    /// The request.
    pub requester: &'a Requester,
    /// What the code was for: `login`, `confirm` or `remove`.
    pub purpose: &'static str,
    /// Whether the code is checked against a confirmed enrolment (login,
    /// removal), where an unused recovery code is taken too, or against one
    /// waiting for its first code (confirmation).
    pub confirmed: bool,
    /// The answer when the account has no enrolment in that state.
    pub unenrolled: fn() -> ApiError,
}

/// What took a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// The TOTP code of this step; it is now the account's last.
    Step(i64),
    /// An unused recovery code, now spent.
    RecoveryCode,
}

/// Tries a code against the account's enrolment, locked for the rest of the
/// transaction so concurrent attempts are taken one after the other, and
/// throttled as a password is: past the limit 429 before any check; a wrong
/// code is counted, appended to the access log and answered 401
/// `invalid_code`. The inner `Err` is a refusal whose count must commit; the
/// outer one aborts.
pub fn attempt(
    conn: &mut PgConnection,
    config: &Config,
    attempt: &Attempt<'_>,
    code: &Code,
) -> Result<Result<Accepted, ApiError>, ApiError> {
    let enrolment: Enrolment = match store::locked(conn, attempt.account_id)? {
        Some(e) if e.confirmed_at.is_some() == attempt.confirmed => e,
        _ => return Ok(Err((attempt.unenrolled)())),
    };
    let address = attempt.requester.address.as_deref().unwrap_or("unknown");
    let buckets = LoginBuckets::second_factor(attempt.account_id, address);
    let window = config.login_window_seconds;
    if let Some(wait) = throttle::wait(conn, &buckets.limits(config), window)? {
        return Ok(Err(ApiError::RateLimited(wait)));
    }
    let secret = open_secret(&config.document_key, attempt.account_id, &enrolment.secret)?;
    let accepted = match code {
        Code::Totp(code) => match accepted_step(&secret, code, Utc::now(), enrolment.last_step)? {
            Some(step) => {
                store::take_step(conn, attempt.account_id, step)?;
                Some(Accepted::Step(step))
            }
            None => None,
        },
        Code::Recovery(code) if attempt.confirmed => store::spend_recovery_code(
            conn,
            attempt.account_id,
            &recovery_hash(attempt.account_id, code),
        )?
        .then_some(Accepted::RecoveryCode),
        Code::Recovery(_) | Code::Neither => None,
    };
    match accepted {
        Some(accepted) => {
            // As at login: the account's count over every address stays.
            throttle::clear(conn, &[&buckets.pair])?;
            Ok(Ok(accepted))
        }
        None => {
            throttle::record_failure(conn, &buckets.all(), window)?;
            let failed = Entry::new(Access::MfaFailed, Some(attempt.account_id))
                .target(attempt.account_id.to_string())
                .filters(serde_json::json!({"purpose": attempt.purpose}))
                .units(attempt.unit_id.into_iter().collect());
            access::record(conn, attempt.requester, failed)?;
            tracing::info!(purpose = attempt.purpose, "wrong second-factor code");
            Ok(Err(wrong_code()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// RFC 6238, appendix B: the SHA-1 seed and its 8-digit codes.
    #[test]
    fn rfc_6238_sha1_test_vectors() {
        let seed = b"12345678901234567890".to_vec();
        let totp = TOTP::new(Algorithm::SHA1, 8, 1, 30, seed, None, String::new()).unwrap();
        let vectors = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (time, code) in vectors {
            assert_eq!(totp.generate(time), code, "T = {time}");
        }
    }

    /// The same seed, 6 digits (the last six of each vector, as RFC 4226's
    /// truncation gives), through the function the server checks with.
    #[test]
    fn codes_are_accepted_in_their_window_once() {
        let seed = b"12345678901234567890";
        let at = Utc.timestamp_opt(1_111_111_109, 0).unwrap();
        let step = step_of(at);
        assert_eq!(accepted_step(seed, "081804", at, None).unwrap(), Some(step));
        // A step either side is still accepted; two steps are not.
        let later = at + chrono::Duration::seconds(30);
        assert_eq!(
            accepted_step(seed, "081804", later, None).unwrap(),
            Some(step)
        );
        let much_later = at + chrono::Duration::seconds(61);
        assert_eq!(
            accepted_step(seed, "081804", much_later, None).unwrap(),
            None
        );
        // Not again once its step was taken, nor a code of an earlier step.
        assert_eq!(accepted_step(seed, "081804", at, Some(step)).unwrap(), None);
        assert_eq!(
            accepted_step(seed, "081804", at, Some(step + 1)).unwrap(),
            None
        );
        assert_eq!(accepted_step(seed, "081805", at, None).unwrap(), None);
    }

    #[test]
    fn codes_parse_as_people_type_them() {
        assert_eq!(
            Code::parse(" 081 804 ").unwrap(),
            Code::Totp("081804".into())
        );
        assert_eq!(
            Code::parse("ABCDE-fghjk").unwrap(),
            Code::Recovery("abcdefghjk".into())
        );
        assert_eq!(Code::parse("12345").unwrap(), Code::Neither);
        assert_eq!(Code::parse("abcde-fghj0").unwrap(), Code::Neither);
        assert!(Code::parse("  ").is_err());
        assert!(Code::parse(&"1".repeat(65)).is_err());
    }

    #[test]
    fn recovery_codes_are_fresh_and_hash_per_account() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        for code in &codes {
            assert!(
                matches!(Code::parse(code).unwrap(), Code::Recovery(_)),
                "{code}"
            );
        }
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert_eq!(
            recovery_hash(a, &codes[0]),
            recovery_hash(a, &codes[0].to_uppercase())
        );
        assert_ne!(recovery_hash(a, &codes[0]), recovery_hash(b, &codes[0]));
    }

    #[test]
    fn secrets_open_only_for_their_account() {
        let key = [9u8; 32];
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let secret = new_secret();
        let sealed = seal_secret(&key, a, &secret).unwrap();
        assert_eq!(open_secret(&key, a, &sealed).unwrap(), secret);
        assert!(open_secret(&key, b, &sealed).is_err());
    }

    #[test]
    fn the_provisioning_uri_is_what_apps_read() {
        let (secret, uri) = provisioning(b"12345678901234567890", "zhang.wei").unwrap();
        assert_eq!(secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            uri,
            "otpauth://totp/Whereabouts:zhang.wei?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Whereabouts"
        );
    }
}
