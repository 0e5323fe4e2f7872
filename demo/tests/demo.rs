//! The demo generator: a small district on a fresh database holds what the
//! product's demo promises, respects the schema's rules, is the same every
//! time, and is refused on a database that already has units.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Jsonb, Text};
use whereabouts_api::testing::TestDatabase;
use whereabouts_core::TripDraft;
use whereabouts_demo::{self as demo, DemoError, DemoOptions};

fn scalar(conn: &mut PgConnection, query: &str) -> i64 {
    diesel::select(sql::<BigInt>(&format!("({query})")))
        .get_result(conn)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

fn text(conn: &mut PgConnection, query: &str) -> String {
    diesel::select(sql::<Text>(&format!("({query})")))
        .get_result(conn)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

fn options() -> DemoOptions {
    DemoOptions {
        accounts: 2_000,
        filings: 3_000,
        evidence_days: 3,
        ..DemoOptions::default()
    }
}

/// A digest of the generated rows that do not depend on the password salt or
/// on when the demo ran.
fn fingerprint(conn: &mut PgConnection) -> String {
    text(
        conn,
        "SELECT md5(
           (SELECT string_agg(id::text || code || name || kind || coalesce(principal_id::text, ''), ',' ORDER BY id) FROM units)
           || (SELECT string_agg(id::text || login || display_name || coalesce(unit_id::text, '') || rank || position
                                 || coalesce(mobile, '') || party_member::text || key_post::text, ',' ORDER BY id) FROM accounts)
           || (SELECT string_agg(id::text || status || draft::text || submitted_at::text, ',' ORDER BY id) FROM filings)
           || (SELECT string_agg(account_id::text || date::text || coalesce(location_code, '') || coalesce(status, ''), ','
                                 ORDER BY import_id, row_number) FROM evidence)
           || (SELECT string_agg(unit_id::text || version::text || rules::text, ',' ORDER BY unit_id, version) FROM policies))",
    )
}

#[test]
fn demo_district_is_complete_consistent_deterministic_and_refused_twice() {
    let db = TestDatabase::new();
    let mut conn = db.connect();
    let summary = demo::generate(&mut conn, db.url(), &options()).unwrap();
    let c = &mut conn;

    // The tree: one district, 133 units, 1–3 subunits and 2–4 departments each.
    assert_eq!(
        scalar(c, "SELECT count(*) FROM units WHERE kind = 'jurisdiction'"),
        1
    );
    assert_eq!(
        text(c, "SELECT id::text FROM units WHERE code = 'demo-district'"),
        summary.district_id.to_string()
    );
    assert_eq!(
        scalar(c, "SELECT count(*) FROM units WHERE kind = 'unit'"),
        133
    );
    assert_eq!(summary.units, 133);
    assert_eq!(
        scalar(
            c,
            "SELECT count(*) FROM units u WHERE u.kind = 'unit' AND (
               (SELECT count(*) FROM units s WHERE s.parent_id = u.id AND s.kind = 'subunit') NOT BETWEEN 1 AND 3
               OR (SELECT count(*) FROM units d WHERE d.path @> ARRAY[u.id] AND d.kind = 'department') NOT BETWEEN 2 AND 4)"
        ),
        0
    );
    assert_eq!(
        scalar(
            c,
            "SELECT count(*) FROM units u LEFT JOIN units p ON p.id = u.parent_id
             WHERE u.path <> coalesce(p.path, '{}') || u.id"
        ),
        0,
        "every path is the parent's path and the node"
    );
    assert_eq!(
        scalar(c, "SELECT count(*) FROM units WHERE code !~ '^[a-z0-9-]+$'"),
        0
    );

    // Accounts: the cadres and the administrators, each in a unit but the system admin.
    assert_eq!(
        scalar(
            c,
            "SELECT count(*) FROM accounts WHERE login ~ '^u[0-9]{5}$'"
        ),
        2_000
    );
    assert_eq!(summary.cadres, 2_000);
    assert_eq!(summary.accounts, 2_000 + 3 + 133);
    assert_eq!(scalar(c, "SELECT count(*) FROM accounts"), summary.accounts);
    assert_eq!(
        text(
            c,
            "SELECT string_agg(login, ',') FROM accounts WHERE unit_id IS NULL"
        ),
        "demo-admin"
    );
    assert_eq!(
        scalar(c, "SELECT count(DISTINCT password_hash) FROM accounts"),
        1
    );
    assert_eq!(
        scalar(
            c,
            "SELECT count(*) FROM accounts WHERE login ~ '^u[0-9]' AND (employee_no IS NULL OR mobile !~ '^1[3-9][0-9]{9}$')"
        ),
        0
    );
    for rank in ["clerk", "section", "division", "bureau"] {
        assert!(
            scalar(
                c,
                &format!("SELECT count(*) FROM accounts WHERE rank = '{rank}'")
            ) > 0,
            "{rank}"
        );
    }

    // Leadership: every department has a head in it, every unit and subunit a
    // principal and one or two deputies, the district four.
    assert_eq!(
        scalar(
            c,
            "SELECT count(*) FROM units u LEFT JOIN accounts a ON a.id = u.principal_id
             WHERE u.kind = 'department' AND (a.id IS NULL OR a.unit_id <> u.id OR a.position <> 'department_head')"
        ),
        0
    );
    assert_eq!(
        scalar(
            c,
            "SELECT count(*) FROM units u LEFT JOIN accounts a ON a.id = u.principal_id
             WHERE u.kind <> 'department' AND (a.id IS NULL OR a.unit_id <> u.id OR a.position <> 'principal'
               OR (SELECT count(*) FROM unit_deputies d WHERE d.unit_id = u.id)
                  NOT BETWEEN 1 AND CASE WHEN u.kind = 'jurisdiction' THEN 4 ELSE 2 END)"
        ),
        0
    );
    assert_eq!(
        scalar(
            c,
            "SELECT count(*) FROM unit_deputies d JOIN accounts a ON a.id = d.account_id
             WHERE a.unit_id <> d.unit_id OR a.position <> 'deputy'
                OR EXISTS (SELECT 1 FROM unnest(d.in_charge_of) x
                           WHERE NOT EXISTS (SELECT 1 FROM units c WHERE c.id = x AND c.parent_id = d.unit_id))"
        ),
        0
    );
    assert_eq!(
        scalar(
            c,
            "SELECT count(*) FROM units c WHERE c.kind = 'unit'
               AND NOT EXISTS (SELECT 1 FROM unit_deputies d WHERE d.in_charge_of @> ARRAY[c.id])"
        ),
        0,
        "the district's deputies are in charge of every unit"
    );
    assert_eq!(
        scalar(
            c,
            "SELECT count(*) FROM role_grants WHERE role = 'unit_admin'"
        ),
        133
    );
    assert_eq!(
        scalar(
            c,
            "SELECT count(*) FROM role_grants g JOIN accounts a ON a.id = g.account_id
             WHERE (a.login, g.role) IN (('demo-admin', 'system_admin'), ('demo-inspector', 'inspector'),
                                         ('demo-inspector-7', 'inspector'))"
        ),
        3
    );

    // Policies: the district's is incomplete, some units have none of their
    // own, some a subunit's own; every stored policy parses.
    assert_eq!(summary.policies.complete, 80);
    assert_eq!(summary.policies.incomplete, 20);
    assert_eq!(summary.policies.none, 20);
    assert_eq!(summary.policies.not_extended, 13);
    assert_eq!(
        scalar(
            c,
            "SELECT count(*) FROM units u WHERE u.kind = 'unit'
               AND NOT EXISTS (SELECT 1 FROM policies p WHERE p.unit_id = u.id)"
        ),
        20
    );
    assert_eq!(
        scalar(
            c,
            "SELECT count(DISTINCT p.unit_id) FROM policies p JOIN units u ON u.id = p.unit_id WHERE u.kind = 'subunit'"
        ),
        13
    );
    let rules: Vec<serde_json::Value> = diesel::select(sql::<diesel::sql_types::Array<Jsonb>>(
        "(SELECT array_agg(rules) FROM policies)",
    ))
    .get_result(c)
    .unwrap();
    let mut complete = 0;
    for rules in rules {
        let policy: whereabouts_core::Policy =
            serde_json::from_value(serde_json::json!({ "rules": rules })).unwrap();
        assert!(policy.check().is_empty());
        if whereabouts_core::policy_gaps(&policy).is_empty() {
            complete += 1;
        }
    }
    assert_eq!(complete, 93, "80 complete units and 13 not extended");
    let district_policy: serde_json::Value = diesel::select(sql::<Jsonb>(
        "(SELECT rules FROM policies p JOIN units u ON u.id = p.unit_id WHERE u.code = 'demo-district')",
    ))
    .get_result(c)
    .unwrap();
    let district_policy: whereabouts_core::Policy =
        serde_json::from_value(serde_json::json!({ "rules": district_policy })).unwrap();
    assert!(!whereabouts_core::policy_gaps(&district_policy).is_empty());

    // The May Day special period over the whole district.
    assert_eq!(
        scalar(
            c,
            "SELECT count(*) FROM special_periods s JOIN units u ON u.id = s.unit_id
             WHERE u.code = 'demo-district' AND s.starts_on = DATE '2026-05-01' AND s.ends_on = DATE '2026-05-05'"
        ),
        2
    );
    assert_eq!(
        text(
            c,
            "SELECT min_requirement FROM special_periods WHERE 'abroad_private' = ANY (trip_kinds)"
        ),
        "approval"
    );

    // Filings: May Day's and the historical ones, consistent with their
    // status, steps and filer.
    let may_day = scalar(
        c,
        "SELECT count(*) FROM filings WHERE depart_on >= DATE '2026-04-28'",
    );
    assert!((150..=350).contains(&may_day), "{may_day} May Day filings");
    // The core decides each trip: a few it would refuse are never filed.
    let (_, refused) = summary.refused;
    assert!(
        (1..=60).contains(&refused),
        "{refused} historical trips refused"
    );
    assert_eq!(summary.historical_filings + refused, 3_000);
    assert_eq!(
        scalar(c, "SELECT count(*) FROM filings"),
        may_day + summary.historical_filings
    );
    assert_eq!(
        scalar(
            c,
            "SELECT count(*) FROM filings f JOIN accounts a ON a.id = f.account_id JOIN units u ON u.id = f.unit_id
             WHERE a.unit_id <> f.unit_id OR u.path <> f.unit_path OR f.submitted_at IS NULL
                OR f.depart_on IS NULL OR f.return_on < f.depart_on OR f.policy_unit_id IS NULL
                OR f.draft ->> 'depart_on' <> f.depart_on::text OR f.draft ->> 'kind' <> f.kind
                OR (f.status = 'pending') <> (f.current_step IS NOT NULL)
                OR (f.requirement = 'approval') <> (f.steps = 2)
                OR (f.approved_at IS NOT NULL) <> (f.requirement = 'approval'
                                                   AND f.status IN ('approved', 'away', 'returned', 'cancelled'))"
        ),
        0
    );
    assert_eq!(
        scalar(
            c,
            "SELECT count(*) FROM filings f
             WHERE f.requirement = 'approval' AND (SELECT count(*) FROM filing_steps s WHERE s.filing_id = f.id) <> 2"
        ),
        0
    );
    assert_eq!(
        scalar(
            c,
            "SELECT count(*) FROM filing_steps s JOIN filings f ON f.id = s.filing_id
             WHERE (f.status = 'pending' AND s.step >= f.current_step AND s.decision IS NOT NULL)
                OR (f.status = 'pending' AND s.step < f.current_step AND s.decision IS DISTINCT FROM 'approved')
                OR (f.status = 'approved' AND s.decision IS DISTINCT FROM 'approved')"
        ),
        0
    );
    // May Day's filings were written by the server's own functions: each
    // event has its audit entry, each filing's version counts its changes,
    // each event is dated at its own moment, and the approvers awaited were
    // told.
    let in_may = "f.depart_on >= DATE '2026-04-28'";
    assert_eq!(
        scalar(
            c,
            &format!(
                "SELECT count(*) FROM filing_events e JOIN filings f ON f.id = e.filing_id WHERE {in_may}"
            )
        ),
        scalar(
            c,
            &format!(
                "SELECT count(*) FROM audit_log a JOIN filings f ON f.id = a.entity_id
                 WHERE a.entity = 'filing' AND {in_may}"
            )
        )
    );
    assert_eq!(
        scalar(
            c,
            &format!(
                "SELECT count(*) FROM filings f
                 WHERE {in_may} AND f.version <> (SELECT count(*) FROM filing_events e WHERE e.filing_id = f.id)"
            )
        ),
        0
    );
    assert_eq!(
        scalar(
            c,
            &format!(
                "SELECT count(*) FROM filings f
                 WHERE {in_may} AND (
                   (SELECT e.at FROM filing_events e WHERE e.filing_id = f.id AND e.action = 'submit') <> f.submitted_at
                   OR (SELECT e.at FROM filing_events e WHERE e.filing_id = f.id AND e.action = 'depart')
                        IS DISTINCT FROM f.departed_at
                   OR (SELECT e.at FROM filing_events e WHERE e.filing_id = f.id AND e.action = 'return')
                        IS DISTINCT FROM f.returned_at)"
            )
        ),
        0
    );
    assert_eq!(
        scalar(
            c,
            "SELECT count(*) FROM filings f JOIN filing_steps s
               ON s.filing_id = f.id AND s.round = f.current_round AND s.step = f.current_step
             WHERE f.status = 'pending' AND NOT EXISTS (
               SELECT 1 FROM notifications n WHERE n.filing_id = f.id AND n.kind = 'approval_requested'
                 AND n.account_id = ANY(s.candidates))"
        ),
        0
    );
    assert_eq!(
        scalar(c, "SELECT count(*) FROM evidence_imports"),
        scalar(
            c,
            "SELECT count(*) FROM audit_log WHERE entity = 'evidence_import' AND action = 'create'"
        )
    );
    assert!(scalar(c, "SELECT count(DISTINCT status) FROM filings") >= 5);
    for status in ["returned", "recorded", "away", "cancelled"] {
        assert!(
            scalar(
                c,
                &format!("SELECT count(*) FROM filings WHERE status = '{status}'")
            ) > 0,
            "{status}"
        );
    }
    assert!(
        scalar(
            c,
            "SELECT count(*) FROM filings WHERE submitted_at > submit_by"
        ) > 0,
        "some filings are late"
    );
    let drafts: Vec<serde_json::Value> = diesel::select(sql::<diesel::sql_types::Array<Jsonb>>(
        "(SELECT array_agg(draft) FROM filings)",
    ))
    .get_result(c)
    .unwrap();
    for draft in drafts {
        let draft: TripDraft =
            serde_json::from_value(draft.clone()).unwrap_or_else(|e| panic!("{draft}: {e}"));
        for destination in &draft.destinations {
            assert!(
                whereabouts_core::regions::lookup(&destination.code).is_some(),
                "{}",
                destination.code
            );
            assert!(!destination.code.starts_with("11"), "a trip inside Beijing");
        }
        assert!(draft.reason.is_some() && draft.contact_phone.is_some());
    }
    assert!(scalar(c, "SELECT count(*) FROM filing_events") > may_day * 2);

    // Evidence: per-unit imports whose rows are numbered and counted, every
    // record on the person's node; itineraries of people who never filed.
    let rows = scalar(c, "SELECT count(*) FROM evidence");
    assert_eq!(rows, summary.evidence_rows());
    assert!(rows > 3 * 1_500, "{rows} evidence rows");
    assert_eq!(
        scalar(
            c,
            "SELECT count(*) FROM evidence_imports i
             WHERE i.accepted <> (SELECT count(*) FROM evidence e WHERE e.import_id = i.id)
                OR (SELECT max(row_number) FROM evidence e WHERE e.import_id = i.id) <> i.accepted
                OR (SELECT count(DISTINCT row_number) FROM evidence e WHERE e.import_id = i.id) <> i.accepted
                OR i.rejected <> '[]' OR i.imported_by <> md5('demo:admin')::uuid"
        ),
        0
    );
    assert_eq!(
        scalar(
            c,
            "SELECT count(*) FROM evidence e JOIN evidence_imports i ON i.id = e.import_id
             JOIN accounts a ON a.id = e.account_id JOIN units u ON u.id = a.unit_id
             WHERE e.unit_path <> u.path OR e.source <> i.source OR NOT (e.unit_path @> ARRAY[i.unit_id])"
        ),
        0
    );
    for source in ["itinerary", "attendance", "border_crossing"] {
        assert!(
            scalar(
                c,
                &format!("SELECT count(*) FROM evidence WHERE source = '{source}'")
            ) > 0,
            "{source}"
        );
    }
    let unreported = scalar(
        c,
        "SELECT count(DISTINCT e.account_id) FROM evidence e
         WHERE e.source = 'itinerary' AND e.date BETWEEN DATE '2026-04-28' AND DATE '2026-05-07'
           AND NOT EXISTS (SELECT 1 FROM filings f WHERE f.account_id = e.account_id
                           AND f.depart_on <= DATE '2026-05-07' AND f.return_on >= DATE '2026-04-14')",
    );
    assert_eq!(unreported, summary.unreported);
    assert!(unreported > 0, "somebody left without filing");
    let problem_units = scalar(
        c,
        "SELECT count(DISTINCT e.unit_path[2]) FROM evidence e
         WHERE e.source = 'itinerary' AND NOT EXISTS (SELECT 1 FROM filings f WHERE f.account_id = e.account_id
               AND f.depart_on <= DATE '2026-05-07' AND f.return_on >= DATE '2026-04-14')",
    );
    assert_eq!(problem_units, summary.unreported_units);
    assert!(
        (1..=33).contains(&problem_units),
        "unreported departures only in the problem quarter: {problem_units}"
    );
    // The register: present on each of the first three working days from
    // 6 May (6, 7 and 8 May) unless evidence puts the person elsewhere.
    assert_eq!(
        scalar(c, "SELECT count(*) FROM evidence WHERE status = 'present'"),
        scalar(
            c,
            "SELECT count(*) FROM accounts a
             CROSS JOIN (VALUES (DATE '2026-05-06'), (DATE '2026-05-07'), (DATE '2026-05-08')) d(day)
             WHERE a.login ~ '^u[0-9]' AND NOT EXISTS (SELECT 1 FROM evidence e
                   WHERE e.account_id = a.id AND e.date = d.day AND e.source <> 'attendance')"
        )
    );

    // A second run refuses and changes nothing.
    let before = fingerprint(c);
    match demo::generate(c, db.url(), &options()) {
        Err(DemoError::NotEmpty(units)) => assert!(units > 700),
        other => panic!("a second run should refuse: {other:?}"),
    }
    assert_eq!(fingerprint(c), before);

    // The same options give the same district on another database.
    let other = TestDatabase::new();
    let mut other_conn = other.connect();
    demo::generate(&mut other_conn, other.url(), &options()).unwrap();
    assert_eq!(fingerprint(&mut other_conn), before);
}

#[test]
fn too_few_accounts_and_weak_passwords_are_refused() {
    let db = TestDatabase::new();
    let mut conn = db.connect();
    let few = DemoOptions {
        accounts: 100,
        ..DemoOptions::default()
    };
    match demo::generate(&mut conn, db.url(), &few) {
        Err(DemoError::Invalid(message)) => assert!(message.contains("--accounts"), "{message}"),
        other => panic!("{other:?}"),
    }
    let weak = DemoOptions {
        password: "short".into(),
        ..options()
    };
    assert!(matches!(
        demo::generate(&mut conn, db.url(), &weak),
        Err(DemoError::Invalid(_))
    ));
    assert_eq!(scalar(&mut conn, "SELECT count(*) FROM units"), 0);
    assert_eq!(scalar(&mut conn, "SELECT count(*) FROM accounts"), 0);
}
