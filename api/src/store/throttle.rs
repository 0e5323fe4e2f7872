//! Failed sign-ins as stored: the buckets that count them, shared by every server.

use crate::error::ApiError;
use crate::schema::login_throttle;
use diesel::prelude::*;
use diesel::sql_types::{Array, Double, Integer, Text};

/// A bucket's stored count of failures.
#[derive(Debug, QueryableByName)]
pub struct Failures {
    /// The bucket's name.
    #[diesel(sql_type = Text)]
    pub bucket: String,
    /// Failures counted since the bucket last started again.
    #[diesel(sql_type = Integer)]
    pub failures: i32,
    /// Seconds since the last of them.
    #[diesel(sql_type = Double)]
    pub elapsed: f64,
}

/// The counts of those of these buckets that hold any failure.
pub fn failures(conn: &mut PgConnection, buckets: &[&str]) -> Result<Vec<Failures>, ApiError> {
    Ok(diesel::sql_query(
        "SELECT bucket, failures, extract(epoch FROM now() - last_failure_at)::float8 AS elapsed
         FROM login_throttle WHERE bucket = ANY($1)",
    )
    .bind::<Array<Text>, _>(buckets)
    .load(conn)?)
}

/// Counts one failure in each bucket, now; a bucket quiet for `window`
/// seconds starts again from one.
pub fn record_failure(
    conn: &mut PgConnection,
    buckets: &[&str],
    window: i64,
) -> Result<(), ApiError> {
    // A fixed order, so concurrent requests lock the rows in the same order.
    let mut names = buckets.to_vec();
    names.sort_unstable();
    names.dedup();
    diesel::sql_query(
        "INSERT INTO login_throttle (bucket, last_failure_at, failures)
         SELECT bucket, now(), 1 FROM unnest($1::text[]) AS bucket
         ON CONFLICT (bucket) DO UPDATE SET
           failures = CASE WHEN login_throttle.last_failure_at + make_interval(secs => $2) <= now()
                           THEN 1 ELSE login_throttle.failures + 1 END,
           last_failure_at = now()",
    )
    .bind::<Array<Text>, _>(&names)
    .bind::<Double, _>(window as f64)
    .execute(conn)?;
    Ok(())
}

/// Forgets the failures of these buckets.
pub fn clear(conn: &mut PgConnection, buckets: &[&str]) -> Result<(), ApiError> {
    diesel::delete(login_throttle::table.filter(login_throttle::bucket.eq_any(buckets)))
        .execute(conn)?;
    Ok(())
}
