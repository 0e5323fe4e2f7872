#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The demo's filings as the core would decide them: for every generated
//! filing, the core's assessment of its draft at the moment it was submitted
//! must give the requirement, the deadline (`submit_by`), the approver chain
//! and the policy the demo wrote, and the core must accept it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Int4, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use std::collections::BTreeMap;
use uuid::Uuid;
use whereabouts_api::config::Config;
use whereabouts_api::db::Db;
use whereabouts_api::extract::AppState;
use whereabouts_api::testing::TestDatabase;
use whereabouts_core::{Lang, TripDraft, assess};
use whereabouts_demo::DemoOptions;

/// A filing as the demo wrote it, with its chain's candidates per step.
#[derive(QueryableByName)]
struct Written {
    #[diesel(sql_type = SqlUuid)]
    account_id: Uuid,
    #[diesel(sql_type = Jsonb)]
    draft: serde_json::Value,
    #[diesel(sql_type = Nullable<Text>)]
    requirement: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    submitted_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    submit_by: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    policy_unit_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Int4>)]
    policy_version: Option<i32>,
    #[diesel(sql_type = Jsonb)]
    candidates: serde_json::Value,
}

#[test]
fn every_demo_filing_is_what_the_core_decides() {
    let db = TestDatabase::new();
    let mut conn = db.connect();
    let options = DemoOptions {
        accounts: 2_000,
        filings: 1_000,
        ..DemoOptions::default()
    };
    whereabouts_demo::generate(&mut conn, db.url(), &options).unwrap();
    let written: Vec<Written> = diesel::sql_query(
        "SELECT f.account_id, f.draft, f.requirement, f.submitted_at, f.submit_by,
                f.policy_unit_id, f.policy_version,
                coalesce((SELECT jsonb_agg(s.candidates ORDER BY s.step) FROM filing_steps s
                          WHERE s.filing_id = f.id AND s.round = 0), '[]') AS candidates
         FROM filings f ORDER BY f.id",
    )
    .load(&mut conn)
    .unwrap();
    assert!(written.len() > 1_000, "the demo filed {}", written.len());
    let mut disagree = BTreeMap::<String, usize>::new();
    for filing in &written {
        let mut config = Config::for_tests(db.url());
        config.fixed_now = Some(filing.submitted_at);
        let state = AppState::new(config, Db::connect(db.url(), 1).unwrap());
        let filer = state.contexts.of(&mut conn, filing.account_id).unwrap();
        let draft: TripDraft = serde_json::from_value(filing.draft.clone()).unwrap();
        let core = assess(&filer.context.clone().input(&state, draft, Lang::En));
        let chain: Vec<Vec<Uuid>> = core
            .approvers
            .iter()
            .map(|step| step.candidates.iter().map(|c| c.account_id).collect())
            .collect();
        let stored: Vec<Vec<Uuid>> = serde_json::from_value(filing.candidates.clone()).unwrap();
        let mut what = Vec::new();
        if !core.valid {
            what.push(format!(
                "not fileable: {:?}",
                core.errors.iter().map(|e| e.code).collect::<Vec<_>>()
            ));
        }
        if core.requirement.map(|r| r.as_str().to_owned()) != filing.requirement {
            what.push("requirement".to_owned());
        }
        if chain != stored {
            what.push("approver chain".to_owned());
        }
        if core.policy_unit_id != filing.policy_unit_id
            || core.policy_version != filing.policy_version.map(i64::from)
        {
            what.push("policy".to_owned());
        }
        if core.submit_by.map(|t| t.to_utc()) != filing.submit_by {
            what.push(format!("submit_by under rule {:?}", core.rule_id));
        }
        if !what.is_empty() {
            *disagree.entry(what.join(", ")).or_default() += 1;
        }
    }
    assert!(
        disagree.is_empty(),
        "{} filings, the core disagrees with:\n{disagree:#?}",
        written.len()
    );
}
