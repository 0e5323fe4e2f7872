//! Idempotency keys as stored: a request's claim and the answer kept for its retries.
