//! The worker's audit checkpoints: published as the webhook event
//! `audit.checkpoint` to webhooks over the whole tree that want it, once per
//! interval however many replicas try, signed so that the chain's end can be
//! checked against them later.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use diesel::prelude::*;
use serde_json::{Value, json};
use whereabouts_api::audit::{self, Checkpoint, Tail};

#[derive(QueryableByName)]
struct Queued {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    webhook_id: uuid::Uuid,
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    payload: Value,
}

fn queued(app: &TestApp) -> Vec<Queued> {
    diesel::sql_query(
        "SELECT webhook_id, payload FROM outbox WHERE event = 'audit.checkpoint' ORDER BY id",
    )
    .load(&mut app.db.connect())
    .unwrap()
}

#[actix_web::test]
async fn a_checkpoint_goes_once_per_interval_to_the_whole_trees_webhooks_that_want_it() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let hook = |events: Value, unit: Option<uuid::Uuid>| json!({"url": "http://127.0.0.1:9/hook", "events": events, "unit_id": unit});
    let everything = app
        .post("/api/v1/webhooks", d.token("admin"), hook(json!([]), None))
        .await;
    assert_eq!(everything.status.as_u16(), 201, "{}", everything.body);
    let wanting = app
        .post(
            "/api/v1/webhooks",
            d.token("admin"),
            hook(json!(["audit.checkpoint"]), None),
        )
        .await;
    assert_eq!(wanting.status.as_u16(), 201, "{}", wanting.body);
    // Filings only, or a subtree only: no checkpoint.
    for body in [
        hook(json!(["filing.submit"]), None),
        hook(json!([]), Some(d.bureau)),
    ] {
        let res = app.post("/api/v1/webhooks", d.token("admin"), body).await;
        assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    }
    let key = app.state.config.audit_key;
    let mut conn = app.db.connect();
    let hour = chrono::Duration::minutes(60);
    assert!(audit::publish_checkpoint(&mut conn, &key, hour).unwrap());
    // Within the interval, this replica or another publishes nothing more.
    assert!(!audit::publish_checkpoint(&mut conn, &key, hour).unwrap());
    assert!(!audit::publish_checkpoint(&mut app.db.connect(), &key, hour).unwrap());

    let sent = queued(&app);
    let mut to: Vec<uuid::Uuid> = sent.iter().map(|q| q.webhook_id).collect();
    to.sort();
    let mut want = vec![everything.id("/id"), wanting.id("/id")];
    want.sort();
    assert_eq!(to, want);
    assert_eq!(sent[0].payload, sent[1].payload);
    let checkpoint: Checkpoint = serde_json::from_value(sent[0].payload.clone()).unwrap();
    assert!(checkpoint.seq > 0, "{checkpoint:?}");
    assert!(checkpoint.signature_holds(&key));
    assert_eq!(
        audit::check_tail(&mut conn, &key, &checkpoint).unwrap(),
        Tail::Intact
    );

    // An interval later, the next one.
    assert!(audit::publish_checkpoint(&mut conn, &key, chrono::Duration::zero()).unwrap());
    assert_eq!(queued(&app).len(), 4);
}

#[actix_web::test]
async fn a_chain_rewritten_and_resealed_under_the_key_still_fails_its_checkpoint() {
    use diesel::connection::SimpleConnection;
    let app = TestApp::new().await;
    seed(&app).await;
    let key = app.state.config.audit_key;
    let mut conn = app.db.connect();
    let checkpoint = audit::checkpoint(&mut conn, &key).unwrap();
    assert_eq!(
        audit::check_tail(&mut conn, &key, &checkpoint).unwrap(),
        Tail::Intact
    );
    // An insider holding the key edits an early row and seals the whole
    // chain again: it fits together, but no longer ends where it did.
    conn.batch_execute(
        "ALTER TABLE audit_log DISABLE TRIGGER USER;
         UPDATE audit_log SET data = '{\"forged\": true}' WHERE seq = 1;
         UPDATE audit_log SET seq = NULL, prev_hash = NULL, hash = NULL;
         ALTER TABLE audit_log ENABLE TRIGGER USER;",
    )
    .unwrap();
    audit::seal_all(&mut conn, &key).unwrap();
    assert!(audit::verify(&mut conn, &key).unwrap().ok);
    assert_eq!(
        audit::check_tail(&mut conn, &key, &checkpoint).unwrap(),
        Tail::Rewritten {
            seq: checkpoint.seq
        }
    );
}
