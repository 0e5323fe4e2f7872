//! One database transaction of a change: [`Tx`] carries its connection and the
//! audit entries it records, and [`run`] opens it, claims the request's
//! `Idempotency-Key` in it, and writes the audit entries at its end.
//!
//! Nothing is hidden in task-local or thread-local state: a handler that writes
//! takes the request's [`Claim`] as an argument and hands it to
//! [`Db::transaction`](crate::db::Db::transaction); code that records an audit
//! entry is given the `Tx` it records it in.

use crate::audit::Entries;
use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use diesel::prelude::*;
use futures_util::future::{Ready, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use uuid::Uuid;

/// A transaction in progress. Its fields are public so that a query can
/// borrow the connection while the same code records an audit entry.
pub struct Tx<'c> {
    /// The connection, inside the transaction.
    pub conn: &'c mut PgConnection,
    /// The audit entries of the change, written when the work succeeds, just
    /// before the commit, so the chain's rows are written last.
    pub audit: Entries,
}

/// Runs `work` in one transaction on `conn`. With a claim, the request's
/// idempotency key is inserted first, in the same transaction, so the change
/// and its claim commit or roll back together.
pub fn run<T>(
    conn: &mut PgConnection,
    claim: Option<&Claim>,
    work: impl FnOnce(&mut Tx<'_>) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let value = conn.transaction(|conn| {
        if let Some(claim) = claim {
            claim.insert(conn)?;
        }
        let mut tx = Tx {
            conn,
            audit: Entries::default(),
        };
        let value = work(&mut tx)?;
        let Tx { conn, audit } = tx;
        audit.write(conn)?;
        Ok::<_, ApiError>(value)
    })?;
    if let Some(claim) = claim {
        claim.claimed.store(true, Ordering::SeqCst);
    }
    Ok(value)
}

/// The `Idempotency-Key` of the request being handled, as the idempotency
/// middleware leaves it on the request. A handler that changes something takes
/// `Option<Claim>` and passes it to its transaction.
#[derive(Debug, Clone)]
pub struct Claim {
    account: Uuid,
    key: String,
    hash: Vec<u8>,
    claimed: Arc<AtomicBool>,
}

impl Claim {
    /// A claim of `key` by `account` for a request whose hash is `hash`.
    pub fn new(account: Uuid, key: String, hash: Vec<u8>) -> Self {
        Self {
            account,
            key,
            hash,
            claimed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether a transaction holding the claim committed.
    pub fn committed(&self) -> bool {
        self.claimed.load(Ordering::SeqCst)
    }

    /// Inserts the key's row in the caller's transaction, once per request. A
    /// concurrent request holding the same key makes this wait for it and then
    /// fail with 409 `idempotency_key_in_progress`.
    fn insert(&self, conn: &mut PgConnection) -> Result<(), ApiError> {
        if self.committed() {
            return Ok(());
        }
        crate::store::idempotency::claim(conn, self.account, &self.key, &self.hash)?;
        Ok(())
    }
}

/// Present when the request carries an `Idempotency-Key` the middleware
/// accepted; as `Option<Claim>`, absent otherwise.
impl FromRequest for Claim {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Claim>()
                .cloned()
                // Never answered: handlers take `Option<Claim>`.
                .ok_or(ApiError::NotFound),
        )
    }
}
