//! Background work inside the server: sealing the audit chain, delivering the
//! outbox to webhooks, and sweeping for due and overdue returns.
//!
//! Work is claimed with `FOR UPDATE SKIP LOCKED` (a delivery row stays locked
//! while it is being sent), and sweeps write notifications with dedupe keys, so
//! any number of replicas run the worker without doing anything twice. The
//! worker stops when the server stops.

use crate::config::Config;
use crate::db::Db;
use crate::error::ApiError;
use crate::notify::{self, Kind};
use crate::store::outbox as store;
use chrono::{DateTime, Duration, Utc};
use diesel::{Connection, PgConnection};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// The header carrying `sha256=<hex HMAC of the body>`.
pub const SIGNATURE_HEADER: &str = "x-whereabouts-signature";
/// Longest wait between two delivery attempts, in seconds.
const MAX_BACKOFF_SECONDS: i64 = 3600;
/// Deliveries claimed per round.
const BATCH: i64 = 20;

/// A running worker; [`Worker::stop`] ends it.
pub struct Worker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the worker on its own thread.
    pub fn spawn(config: Arc<Config>, db: Db) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("whereabouts-worker".into())
            .spawn(move || run(&config, &db, &flag))?;
        Ok(Self {
            stop,
            handle: Some(handle),
        })
    }

    /// Asks the worker to stop and waits for the round in progress to finish.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

fn run(config: &Config, db: &Db, stop: &AtomicBool) {
    let client = crate::webhook_target::Client::new(config.webhook_allow_private);
    let mut last_sweep: Option<DateTime<Utc>> = None;
    while !stop.load(Ordering::SeqCst) {
        match db.get() {
            Ok(mut conn) => {
                loop {
                    match deliver_due(&mut conn, &client, config.now()) {
                        Ok(n) if n > 0 && !stop.load(Ordering::SeqCst) => continue,
                        Ok(_) => break,
                        Err(e) => {
                            tracing::error!(error = %e, "outbox delivery failed");
                            break;
                        }
                    }
                }
                if let Err(e) = crate::audit::seal_all(&mut conn, &config.audit_key) {
                    tracing::error!(error = %e, "sealing the audit chain failed");
                }
                if config.audit_checkpoint_minutes > 0 {
                    let interval = Duration::minutes(config.audit_checkpoint_minutes);
                    if let Err(e) =
                        crate::audit::publish_checkpoint(&mut conn, &config.audit_key, interval)
                    {
                        tracing::error!(error = ?e, "publishing an audit checkpoint failed");
                    }
                }
                let now = config.now();
                if last_sweep
                    .is_none_or(|at| now - at >= Duration::seconds(config.sweep_interval_seconds))
                {
                    if let Err(e) = sweep(&mut conn, config, now) {
                        tracing::error!(error = %e, "sweep failed");
                    }
                    match crate::store::access_log::sweep(&mut conn, config.access_log_days) {
                        Ok(0) => {}
                        Ok(n) => {
                            tracing::info!(entries = n, "access log entries past retention deleted")
                        }
                        Err(e) => tracing::error!(error = %e, "access log retention sweep failed"),
                    }
                    last_sweep = Some(now);
                }
            }
            Err(e) => tracing::warn!(error = %e, "worker has no database connection"),
        }
        // Sleep in small slices so a stop request is seen quickly.
        let mut slept = 0;
        while slept < config.worker_interval_ms && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(50));
            slept += 50;
        }
    }
}

/// The signature of a body with a webhook's secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Delivers the deliveries that are due; answers how many it attempted.
/// The client checks each target again, as resolved, before it connects.
pub fn deliver_due(
    conn: &mut PgConnection,
    client: &crate::webhook_target::Client,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    conn.transaction(|conn| {
        let due = store::claim_due(conn, now, BATCH)?;
        for delivery in &due {
            let id = delivery.id;
            let Some(endpoint) = store::live_endpoint(conn, delivery.webhook_id)? else {
                store::abandon_delivery(conn, id, now)?;
                continue;
            };
            let body = serde_json::to_vec(&json!({
                "delivery_id": id,
                "event": delivery.event,
                "created_at": delivery.created_at,
                "data": delivery.payload,
            }))
            .map_err(ApiError::internal("serialising a webhook delivery"))?;
            let delivery_id = id.to_string();
            let signed = signature(&endpoint.secret, &body);
            let result = client.post(
                &endpoint.url,
                &[
                    ("content-type", "application/json"),
                    ("x-whereabouts-event", delivery.event.as_str()),
                    ("x-whereabouts-delivery", delivery_id.as_str()),
                    (SIGNATURE_HEADER, signed.as_str()),
                ],
                &body,
            );
            match result {
                Ok(status) if (200..300).contains(&status) => {
                    store::mark_delivered(conn, id, now, delivery.attempts + 1)?;
                }
                outcome => {
                    let error = match outcome {
                        Ok(status) => format!("status {status}"),
                        Err(e) => e,
                    };
                    let attempts = delivery.attempts + 1;
                    let backoff = 2_i64
                        .saturating_pow(u32::try_from(attempts).unwrap_or(31))
                        .min(MAX_BACKOFF_SECONDS);
                    tracing::info!(
                        delivery = id,
                        attempts,
                        %error,
                        "webhook delivery failed; will retry"
                    );
                    let retry_at = now + Duration::seconds(backoff);
                    store::schedule_retry(conn, id, attempts, retry_at, error)?;
                }
            }
        }
        Ok(due.len())
    })
}

/// Notifies filers whose return report is due (the trip has ended) or whose
/// return is overdue (past the grace), once per filing and return date.
pub fn sweep(
    conn: &mut PgConnection,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let tz = config.time_zone;
    let today = now.with_timezone(&tz).date_naive();
    let away = store::away_past_return(conn, today)?;
    let mut written = 0;
    for store::Unreturned {
        filing_id: filing,
        account_id: account,
        return_on,
    } in away
    {
        conn.transaction(|conn| {
            let data = notify::NotificationData::ReturnDue {
                filing_id: filing,
                return_on,
            };
            let payload = json!({"filing_id": filing, "return_on": return_on});
            let due = notify::notify(
                conn,
                &[account],
                Kind::ReturnReportDue,
                Some(filing),
                &data,
                Some(&format!("due:{filing}:{return_on}")),
            )?;
            if due > 0 {
                notify::publish(conn, filing, "filing.return_report_due", &payload)?;
            }
            let ends = whereabouts_core::assessment::start_of_day(
                tz,
                return_on.succ_opt().unwrap_or(return_on),
            );
            let mut overdue = 0;
            if now.fixed_offset() > ends + Duration::hours(config.overdue_grace_hours) {
                overdue = notify::notify(
                    conn,
                    &[account],
                    Kind::ReturnOverdue,
                    Some(filing),
                    &data,
                    Some(&format!("overdue:{filing}:{return_on}")),
                )?;
                if overdue > 0 {
                    notify::publish(conn, filing, "filing.overdue", &payload)?;
                }
            }
            written += due + overdue;
            Ok::<_, ApiError>(())
        })?;
    }
    Ok(written)
}
