//! Schema invariants: diesel's `schema.rs` names exactly the columns the
//! migrations create, the constraints keep bad data out, and the migrations
//! revert and re-apply to the same schema.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use std::collections::{BTreeMap, BTreeSet};
use whereabouts_api::db::MIGRATIONS;
use whereabouts_api::testing::TestDatabase;

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    data_type: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    is_nullable: String,
}

fn columns(conn: &mut PgConnection) -> Vec<Column> {
    diesel::sql_query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations' ORDER BY 1, 2",
    )
    .load(conn)
    .unwrap()
}

/// Tables and columns named in `schema.rs`.
fn schema_rs() -> BTreeMap<String, BTreeSet<String>> {
    let text = include_str!("../src/schema.rs");
    let mut tables = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_suffix('{').map(str::trim)
            && let Some(name) = rest.split_whitespace().next()
            && rest.contains('(')
        {
            current = Some(name.to_owned());
            tables.insert(name.to_owned(), BTreeSet::new());
        } else if line == "}" {
            current = None;
        } else if let (Some(table), Some((column, _))) = (&current, line.split_once("->")) {
            tables
                .get_mut(table)
                .unwrap()
                .insert(column.trim().to_owned());
        }
    }
    tables
}

#[test]
fn schema_rs_matches_the_migrated_database() {
    let db = TestDatabase::new();
    let mut conn = db.connect();
    let mut actual: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in columns(&mut conn) {
        actual
            .entry(c.table_name)
            .or_default()
            .insert(c.column_name);
    }
    assert_eq!(schema_rs(), actual);
}

#[test]
fn migrations_revert_and_reapply_to_the_same_schema() {
    let db = TestDatabase::new();
    let mut conn = db.connect();
    let before = columns(&mut conn);
    let count = MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .unwrap()
        .len();
    for _ in 0..count {
        conn.revert_last_migration(MIGRATIONS).unwrap();
    }
    assert!(
        columns(&mut conn).is_empty(),
        "down migrations left tables behind"
    );
    conn.run_pending_migrations(MIGRATIONS).unwrap();
    assert_eq!(columns(&mut conn), before);
}

#[test]
fn constraints_refuse_bad_rows() {
    let db = TestDatabase::new();
    let mut conn = db.connect();
    let root = "11111111-1111-1111-1111-111111111111";
    conn.batch_execute(&format!("INSERT INTO units (id, code, name, kind, path) VALUES ('{root}', 'root', 'Root', 'jurisdiction', ARRAY['{root}'::uuid])"))
        .unwrap();
    let refused = [
        // Unknown kind.
        "INSERT INTO units (id, code, name, kind, path) VALUES (gen_random_uuid(), 'x', 'X', 'planet', ARRAY[gen_random_uuid()])".to_owned(),
        // Duplicate code.
        "INSERT INTO units (id, code, name, kind, path) VALUES ('22222222-2222-2222-2222-222222222222', 'root', 'X', 'unit', ARRAY['22222222-2222-2222-2222-222222222222'::uuid])".to_owned(),
        // A path that does not end at the unit.
        format!("INSERT INTO units (id, code, name, kind, path) VALUES ('33333333-3333-3333-3333-333333333333', 'y', 'Y', 'unit', ARRAY['{root}'::uuid])"),
        // Unknown rank.
        format!("INSERT INTO accounts (id, login, display_name, unit_id, rank, position, password_hash) VALUES (gen_random_uuid(), 'a', 'A', '{root}', 'general', 'staff', 'h')"),
        // Unknown unit.
        "INSERT INTO accounts (id, login, display_name, unit_id, rank, position, password_hash) VALUES (gen_random_uuid(), 'b', 'B', gen_random_uuid(), 'clerk', 'staff', 'h')".to_owned(),
        // A unit-scoped role without a unit.
        "INSERT INTO role_grants (account_id, role, unit_id) VALUES (gen_random_uuid(), 'inspector', NULL)".to_owned(),
        // A special period ending before it starts.
        format!("INSERT INTO special_periods (id, name, unit_id, starts_on, ends_on, trip_kinds, min_requirement) VALUES (gen_random_uuid(), 'S', '{root}', '2027-10-07', '2027-10-01', '{{}}', 'report')"),
        // A calendar day outside its year.
        "INSERT INTO calendar_years (year) VALUES (2030); INSERT INTO calendar_days (date, year, kind) VALUES ('2031-01-01', 2030, 'holiday')".to_owned(),
    ];
    for sql in refused {
        let result = conn.transaction::<_, diesel::result::Error, _>(|c| c.batch_execute(&sql));
        assert!(result.is_err(), "accepted: {sql}");
    }
    conn.batch_execute(
        "INSERT INTO accounts (id, login, display_name, unit_id, rank, position, password_hash) VALUES (gen_random_uuid(), 'ok', 'OK', '11111111-1111-1111-1111-111111111111', 'clerk', 'staff', 'h');
         INSERT INTO accounts (id, login, display_name, unit_id, rank, position, password_hash) VALUES (gen_random_uuid(), 'ok2', 'OK', '11111111-1111-1111-1111-111111111111', 'clerk', 'staff', 'h')",
    )
    .unwrap();
    let duplicate_login = conn.batch_execute(
        "INSERT INTO accounts (id, login, display_name, unit_id, rank, position, password_hash) VALUES (gen_random_uuid(), 'ok', 'Again', '11111111-1111-1111-1111-111111111111', 'clerk', 'staff', 'h')",
    );
    assert!(duplicate_login.is_err());
}

/// An audit key for the chain these tests seal.
const KEY: [u8; 32] = [7; 32];

#[test]
fn the_chain_seals_finished_transactions_in_order_and_waits_for_running_ones() {
    let db = TestDatabase::new();
    let insert = |conn: &mut PgConnection, action: &str| {
        conn.batch_execute(&format!("INSERT INTO audit_log (at, entity, action, data) VALUES (now(), 'test', '{action}', '{{}}')")).unwrap();
    };
    let mut first = db.connect();
    let mut second = db.connect();
    let mut sealer = db.connect();
    first.batch_execute("BEGIN").unwrap();
    insert(&mut first, "first");
    insert(&mut second, "second");
    // The first transaction is still running: nothing after it may be sealed yet.
    assert_eq!(
        whereabouts_api::audit::seal_all(&mut sealer, &KEY).unwrap(),
        0
    );
    first.batch_execute("COMMIT").unwrap();
    // Other tests' transactions on the same server may hold the horizon back
    // for a moment; nothing may stay unsealed once they are done.
    let unsealed =
        whereabouts_api::audit::seal_written(&mut sealer, &KEY, std::time::Duration::from_secs(10))
            .unwrap();
    assert_eq!(unsealed, 0);
    #[derive(QueryableByName)]
    struct Action {
        #[diesel(sql_type = diesel::sql_types::Text)]
        action: String,
    }
    let order: Vec<String> = diesel::sql_query("SELECT action FROM audit_log ORDER BY seq")
        .load::<Action>(&mut sealer)
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    assert_eq!(order, vec!["first", "second"]);
    let verification = whereabouts_api::audit::verify(&mut sealer, &KEY).unwrap();
    assert!(
        verification.ok && verification.checked == 2,
        "{verification:?}"
    );
    // A sealed row cannot be sealed again or changed.
    assert!(
        sealer
            .batch_execute("UPDATE audit_log SET seq = 9 WHERE action = 'first'")
            .is_err()
    );
}

#[test]
fn the_keyed_chain_migration_reseals_an_existing_chain_under_the_key_in_its_order() {
    let db = TestDatabase::new();
    let mut conn = db.connect();
    // The schema of the release before: the keyed migration undone, with
    // those after it.
    // Every migration of the keyed chain's release and after, the newest
    // first (the second factor's, the access log's, the keyed chain's).
    let of_the_release = |conn: &mut PgConnection| {
        conn.applied_migrations()
            .unwrap()
            .iter()
            .filter(|m| m.to_string().replace('-', "").starts_with("20261204"))
            .count()
    };
    let reverted = of_the_release(&mut conn);
    assert!(reverted >= 3, "{reverted}");
    for _ in 0..reverted {
        conn.revert_last_migration(MIGRATIONS).unwrap();
    }
    let applied = conn.applied_migrations().unwrap();
    assert_eq!(of_the_release(&mut conn), 0, "{applied:?}");
    // A chain as that release sealed it: an unkeyed SHA-256 over each row.
    for action in ["first", "second", "third"] {
        conn.batch_execute(&format!(
            "INSERT INTO audit_log (at, entity, action, data) VALUES (now(), 'test', '{action}', '{{}}')"
        ))
        .unwrap();
    }
    conn.batch_execute(
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update;
         UPDATE audit_log SET seq = id, prev_hash = '\\x00', hash = sha256(convert_to(action, 'UTF8'));
         ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update;",
    )
    .unwrap();
    // Unkeyed, it does not verify under a key.
    assert!(!whereabouts_api::audit::verify(&mut conn, &KEY).unwrap().ok);

    conn.run_pending_migrations(MIGRATIONS).unwrap();
    let verification = whereabouts_api::audit::verify(&mut conn, &KEY).unwrap();
    assert!(
        verification.ok && verification.checked == 3,
        "{verification:?}"
    );
    #[derive(QueryableByName)]
    struct Action {
        #[diesel(sql_type = diesel::sql_types::Text)]
        action: String,
    }
    let order: Vec<String> = diesel::sql_query("SELECT action FROM audit_log ORDER BY seq")
        .load::<Action>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    assert_eq!(order, ["first", "second", "third"]);
    // Under another key it breaks at the first row.
    assert_eq!(
        whereabouts_api::audit::verify(&mut conn, &[9; 32])
            .unwrap()
            .checked,
        0
    );
}
