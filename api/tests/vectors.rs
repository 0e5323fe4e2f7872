//! The shared vectors, through `POST /api/v1/assessments`: the server, given the
//! same data in its database, must answer exactly what the core answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use uuid::Uuid;
use whereabouts_api::auth::hash_password;
use whereabouts_core::{AssessmentInput, assess};

#[path = "../../tests/vectors/compare.rs"]
mod compare;
use compare::normalise;

fn vector_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

fn exec(conn: &mut PgConnection, sql: &str) {
    diesel::sql_query(sql)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn q(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Writes a vector's org, profile, policy, special periods and calendar into the database.
fn load(conn: &mut PgConnection, input: &AssessmentInput, password_hash: &str) {
    let org = &input.org;
    let mut known: BTreeMap<Uuid, Option<Uuid>> =
        org.units.iter().map(|u| (u.id, u.parent_id)).collect();
    // Units a special period or role rule names but the org leaves out: roots.
    for sp in &input.special_periods {
        known.entry(sp.unit_id).or_insert(None);
    }
    for g in &org.role_grants {
        known.entry(g.unit_id).or_insert(None);
    }
    known.entry(input.profile.unit_id).or_insert(None);
    let kind = |id: Uuid| {
        org.units
            .iter()
            .find(|u| u.id == id)
            .map_or("unit", |u| u.kind.as_str())
    };
    let mut inserted: BTreeSet<Uuid> = BTreeSet::new();
    while inserted.len() < known.len() {
        let before = inserted.len();
        for (&id, &parent) in &known {
            if inserted.contains(&id)
                || parent.is_some_and(|p| !inserted.contains(&p) && known.contains_key(&p))
            {
                continue;
            }
            let parent = parent.filter(|p| known.contains_key(p));
            let path = match parent {
                Some(p) => format!("(SELECT path FROM units WHERE id = '{p}') || '{id}'::uuid"),
                None => format!("ARRAY['{id}'::uuid]"),
            };
            let parent_sql = parent.map_or("NULL".to_owned(), |p| format!("'{p}'"));
            exec(
                conn,
                &format!(
                    "INSERT INTO units (id, code, name, kind, parent_id, path) VALUES ('{id}', '{}', 'n', '{}', {parent_sql}, {path})",
                    id.simple(),
                    kind(id)
                ),
            );
            inserted.insert(id);
        }
        assert!(inserted.len() > before, "unit tree has a cycle");
    }
    let home = *known.keys().next().unwrap();
    let mut accounts: BTreeMap<Uuid, (String, bool)> = org
        .accounts
        .iter()
        .map(|a| (a.id, (a.display_name.clone(), a.active)))
        .collect();
    accounts
        .entry(input.profile.account_id)
        .or_insert(("Filer".into(), true));
    for (id, (name, active)) in &accounts {
        let p = &input.profile;
        let (unit, rank, position, party, official, key) = if *id == p.account_id {
            (
                p.unit_id,
                p.rank.as_str(),
                p.position.as_str(),
                p.party_member,
                p.public_official,
                p.key_post,
            )
        } else {
            (home, "clerk", "staff", false, true, false)
        };
        exec(
            conn,
            &format!(
                "INSERT INTO accounts (id, login, display_name, unit_id, rank, position, party_member, public_official, key_post, password_hash, status)
                 VALUES ('{id}', 'a{}', {}, '{unit}', '{rank}', '{position}', {party}, {official}, {key}, {}, '{}')",
                id.simple(),
                q(name),
                q(password_hash),
                if *active { "active" } else { "suspended" }
            ),
        );
    }
    for unit in &org.units {
        if let Some(principal) = unit.principal_id.filter(|p| accounts.contains_key(p)) {
            exec(
                conn,
                &format!(
                    "UPDATE units SET principal_id = '{principal}' WHERE id = '{}'",
                    unit.id
                ),
            );
        }
        for (i, d) in unit
            .deputies
            .iter()
            .enumerate()
            .filter(|(_, d)| accounts.contains_key(&d.account_id))
        {
            let charge: Vec<String> = d
                .in_charge_of
                .iter()
                .map(|u| format!("'{u}'::uuid"))
                .collect();
            exec(
                conn,
                &format!(
                    "INSERT INTO unit_deputies (unit_id, account_id, ordinal, in_charge_of) VALUES ('{}', '{}', {i}, ARRAY[{}]::uuid[])",
                    unit.id,
                    d.account_id,
                    charge.join(",")
                ),
            );
        }
    }
    for g in &org.role_grants {
        if accounts.contains_key(&g.account_id) {
            exec(
                conn,
                &format!(
                    "INSERT INTO role_grants (account_id, role, unit_id) VALUES ('{}', '{}', '{}')",
                    g.account_id,
                    g.role.as_str(),
                    g.unit_id
                ),
            );
        }
    }
    if let Some(policy) = &input.policy {
        let rules = serde_json::to_string(&policy.policy.rules).unwrap();
        exec(
            conn,
            &format!(
                "INSERT INTO policies (unit_id, version, rules) VALUES ('{}', {}, {}::jsonb)",
                policy.source_unit_id,
                policy.version,
                q(&rules)
            ),
        );
    }
    for sp in &input.special_periods {
        let kinds: Vec<String> = sp.trip_kinds.iter().map(|k| q(k.as_str())).collect();
        exec(
            conn,
            &format!(
                "INSERT INTO special_periods (id, name, unit_id, starts_on, ends_on, trip_kinds, min_requirement, approvers, restricted_destinations)
                 VALUES ('{}', {}, '{}', '{}', '{}', ARRAY[{}]::text[], '{}', {}::jsonb, {}::jsonb)",
                sp.id,
                q(&sp.name),
                sp.unit_id,
                sp.starts_on,
                sp.ends_on,
                kinds.join(","),
                sp.min_requirement.as_str(),
                q(&serde_json::to_string(&sp.approvers).unwrap()),
                q(&serde_json::to_string(&sp.restricted_destinations).unwrap())
            ),
        );
    }
    for year in &input.calendar.years {
        exec(
            conn,
            &format!("INSERT INTO calendar_years (year) VALUES ({})", year.year),
        );
        for day in &year.days {
            let kind = serde_json::to_value(day.kind).unwrap();
            exec(
                conn,
                &format!(
                    "INSERT INTO calendar_days (date, year, kind, name) VALUES ('{}', {}, '{}', {})",
                    day.date,
                    year.year,
                    kind.as_str().unwrap(),
                    q(&day.name)
                ),
            );
        }
    }
}

#[actix_web::test]
async fn every_shared_vector_gives_the_same_assessment_through_the_api() {
    let hash = hash_password("vector-password-1").unwrap();
    let mut failures = Vec::new();
    let files = vector_files();
    assert!(files.len() >= 40);
    for path in &files {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let input: AssessmentInput = serde_json::from_value(case["input"].clone()).unwrap();
        let settings = input.settings.clone();
        let now: DateTime<Utc> = input.now.to_utc();
        let app = common::TestApp::with_config(|c| {
            c.home_code = settings.home_code.clone();
            c.time_zone = settings.time_zone;
            c.fixed_now = Some(now);
        })
        .await;
        load(&mut app.db.connect(), &input, &hash);
        let token = app
            .login(
                &format!("a{}", input.profile.account_id.simple()),
                "vector-password-1",
            )
            .await;
        let res = app
            .post(
                "/api/v1/assessments",
                &token,
                json!({"draft": case["input"]["draft"]}),
            )
            .await;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if res.status.as_u16() != 200 {
            failures.push(format!("{name}: status {} {}", res.status, res.body));
            continue;
        }
        let from_api = normalise(res.body.clone());
        let from_core = normalise(serde_json::to_value(assess(&input)).unwrap());
        let expected = normalise(case["expected"].clone());
        if from_api != from_core || from_api != expected {
            failures.push(format!(
                "{name}\n  api:      {from_api}\n  expected: {expected}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors differ through the API:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
