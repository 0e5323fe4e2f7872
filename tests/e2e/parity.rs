//! Parity: the phone and the server give the same assessment. A real server
//! builds a district with policies, a special period and leaders; for each of
//! several accounts the test takes the account's policy snapshot from
//! `GET /api/v1/me/policy-snapshot`, assesses a grid of drafts with the mobile
//! bindings, and compares each with `POST /api/v1/assessments` for that account.
//!
//! With `WHEREABOUTS_PARITY_OUT` set, every case is also written there as a
//! vector (snapshot, draft, time and the server's answer), so the Kotlin and
//! Python bindings replay the same cases through the FFI (`mobile-bindings/test.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common.rs"]
mod common;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use common::*;
use serde_json::{Value, json};
use whereabouts_mobile::PolicySnapshot;

fn beijing_now() -> DateTime<FixedOffset> {
    Utc::now().with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap())
}

struct District {
    admin: Client,
    base: String,
}

impl District {
    fn unit(&self, code: &str, kind: &str, parent: &Value) -> Value {
        let (status, body) = self.admin.call(
            "POST",
            "/api/v1/units",
            Some(json!({"code": code, "name": code, "kind": kind, "parent_id": parent})),
        );
        assert_eq!(status, 201, "{body}");
        body["id"].clone()
    }

    fn account(&self, login: &str, name: &str, unit: &Value, rank: &str, position: &str) -> Value {
        let (status, body) = self.admin.call(
            "POST",
            "/api/v1/accounts",
            Some(
                json!({"login": login, "display_name": name, "unit_id": unit, "rank": rank,
                        "position": position, "password": "parity-password-1"}),
            ),
        );
        assert_eq!(status, 201, "{body}");
        body["id"].clone()
    }

    fn ok(&self, method: &str, path: &str, body: Value) {
        let (status, answer) = self.admin.call(method, path, Some(body));
        assert!(
            status == 200 || status == 201,
            "{method} {path}: {status} {answer}"
        );
    }

    fn client(&self, login: &str) -> Client {
        let mut client = Client {
            base: self.base.clone(),
            token: None,
        };
        let (status, body) = client.call(
            "POST",
            "/api/v1/auth/login",
            Some(json!({"login": login, "password": "parity-password-1"})),
        );
        assert_eq!(status, 200, "{body}");
        client.token = Some(body["access_token"].as_str().unwrap().to_owned());
        client
    }
}

/// The drafts every account assesses: each trip kind to fitting and unfitting
/// destinations, soon and later, short and long, around the special period,
/// with and without a substitute, complete and incomplete.
fn drafts(today: NaiveDate, substitute: &Value) -> Vec<Value> {
    let destinations: [(&str, &[&str]); 4] = [
        ("leave_jurisdiction", &["310000", "320500", "420000", "JP"]),
        ("abroad_private", &["JP", "US", "310000"]),
        ("hk_macau_private", &["HK", "MO"]),
        ("taiwan_private", &["TW"]),
    ];
    let mut out = Vec::new();
    for (kind, codes) in destinations {
        for code in codes.iter() {
            for (depart_in, days) in [(0, 2), (2, 3), (9, 5), (40, 30), (400, 2), (-3, 2)] {
                let depart = today + Duration::days(depart_in);
                let mut draft = json!({
                    "kind": kind, "purpose": "tourism", "reason": "family visit",
                    "destinations": [{"code": code}],
                    "depart_on": depart.to_string(),
                    "return_on": (depart + Duration::days(days)).to_string(),
                    "contact_phone": "13800138000",
                });
                if depart_in < 0 {
                    draft["late_reason"] = json!("called away");
                }
                if depart_in == 9 {
                    draft["substitute_id"] = substitute.clone();
                }
                out.push(draft);
            }
        }
    }
    out.push(json!({}));
    out.push(json!({"kind": "abroad_private", "depart_on": today.to_string()}));
    out.push(
        json!({"kind": "leave_jurisdiction", "destinations": [{"code": "110105"}],
                    "depart_on": (today + Duration::days(3)).to_string(),
                    "return_on": (today + Duration::days(1)).to_string(), "contact_phone": "123"}),
    );
    out
}

#[test]
fn the_bindings_assess_with_a_real_snapshot_exactly_as_the_server_does() {
    let (_cleanup, database_url) = database_with_admin();
    let (_server, base) = start_server(&database_url, &[]);
    let mut admin = Client {
        base: base.clone(),
        token: None,
    };
    let (status, body) = admin.call(
        "POST",
        "/api/v1/auth/login",
        Some(json!({"login": "root", "password": "root-password-1"})),
    );
    assert_eq!(status, 200, "{body}");
    admin.token = Some(body["access_token"].as_str().unwrap().to_owned());
    let d = District { admin, base };

    let district = d.unit("xicheng", "jurisdiction", &Value::Null);
    let bureau = d.unit("commerce", "unit", &district);
    let office = d.unit("commerce-office", "department", &bureau);
    let center = d.unit("market-center", "unit", &bureau);
    let center_dept = d.unit("market-dept", "department", &center);

    let district_head = d.account("zhao", "赵刚", &district, "bureau", "principal");
    let district_deputy = d.account("qian", "钱红", &district, "bureau", "deputy");
    let principal = d.account("sun", "孙伟", &bureau, "bureau", "principal");
    let deputy = d.account("li", "李娜", &bureau, "division", "deputy");
    let head = d.account("wu", "吴芳", &office, "section", "department_head");
    let clerk = d.account("zheng", "郑明", &office, "clerk", "staff");
    let chief = d.account("wang", "王强", &office, "section", "staff");
    let keypost = d.account("chen", "陈静", &center_dept, "division", "staff");
    let center_head = d.account("lin", "林涛", &center_dept, "section", "department_head");
    let auditor = d.account("he", "何平", &bureau, "section", "staff");
    let auditor2 = d.account("feng", "冯雪", &bureau, "section", "staff");

    d.ok("PUT", &format!("/api/v1/units/{}/leaders", district.as_str().unwrap()),
        json!({"principal_id": district_head, "deputies": [{"account_id": district_deputy, "in_charge_of": [bureau]}]}));
    d.ok("PUT", &format!("/api/v1/units/{}/leaders", bureau.as_str().unwrap()),
        json!({"principal_id": principal, "deputies": [{"account_id": deputy, "in_charge_of": [office, center]}]}));
    d.ok(
        "PUT",
        &format!("/api/v1/units/{}/leaders", office.as_str().unwrap()),
        json!({"principal_id": head, "deputies": []}),
    );
    d.ok(
        "PUT",
        &format!("/api/v1/units/{}/leaders", center_dept.as_str().unwrap()),
        json!({"principal_id": center_head, "deputies": []}),
    );
    for who in [&auditor, &auditor2] {
        d.ok(
            "PUT",
            &format!("/api/v1/accounts/{}/roles", who.as_str().unwrap()),
            json!([{"role": "inspector", "unit_id": bureau}]),
        );
    }

    d.ok("PUT", &format!("/api/v1/units/{}/policy", district.as_str().unwrap()), json!({"rules": [
        {"id": "leaders-abroad", "applies_to": {"positions": ["principal"]},
         "trip_kinds": ["abroad_private", "hk_macau_private", "taiwan_private"], "requirement": "approval",
         "approvers": [{"kind": "superior_deputy_in_charge"}, {"kind": "superior_principal"}],
         "form": "online_and_written", "notice": {"days": 10, "working_days": true},
         "return_report": {"required": true, "within_hours": 48}, "substitute_required": true, "max_days": 20},
        {"id": "staff-abroad", "trip_kinds": ["abroad_private", "hk_macau_private", "taiwan_private"],
         "requirement": "approval", "approvers": [{"kind": "department_head"}, {"kind": "unit_principal"}],
         "form": "online", "notice": {"days": 5, "working_days": true},
         "return_report": {"required": true, "within_hours": 24}},
        {"id": "holiday", "periods": ["holiday"], "requirement": "report", "form": "online",
         "notice": {"days": 1, "working_days": false}},
        {"id": "rest", "requirement": "report", "form": "online", "notice": {"days": 1, "working_days": true}}
    ]}));
    d.ok("PUT", &format!("/api/v1/units/{}/policy", bureau.as_str().unwrap()), json!({"rules": [
        {"id": "key-posts", "applies_to": {"key_post": true}, "requirement": "approval",
         "approvers": [{"kind": "role", "role": "inspector", "unit_id": bureau}, {"kind": "deputy_in_charge"}],
         "form": "online", "notice": {"days": 3, "working_days": true}},
        {"id": "staff", "applies_to": {"ranks": ["section", "division"], "positions": ["staff"]},
         "requirement": "approval", "approvers": [{"kind": "department_head"}, {"kind": "unit_principal"}],
         "form": "online", "notice": {"days": 3, "working_days": true},
         "return_report": {"required": true, "within_hours": 24}, "max_days": 15},
        {"id": "leaders", "applies_to": {"positions": ["principal", "deputy", "department_head"]},
         "requirement": "approval", "approvers": [{"kind": "superior_principal"}],
         "form": "online", "notice": {"days": 2, "working_days": false}},
        {"id": "clerks", "applies_to": {"ranks": ["clerk"]}, "requirement": "report", "form": "online",
         "notice": {"days": 1, "working_days": true}}
    ]}));
    let today = beijing_now().date_naive();
    d.ok("POST", "/api/v1/special-periods", json!({
        "name": "Inspection fortnight", "unit_id": bureau,
        "starts_on": (today + Duration::days(8)).to_string(), "ends_on": (today + Duration::days(14)).to_string(),
        "trip_kinds": ["leave_jurisdiction", "abroad_private", "hk_macau_private", "taiwan_private"],
        "min_requirement": "approval", "approvers": [{"kind": "unit_principal"}],
        "restricted_destinations": [{"code": "420000", "action": "blocked"}, {"code": "JP", "action": "approval"}]}));
    let (status, body) = d.admin.call(
        "PATCH",
        &format!("/api/v1/accounts/{}", keypost.as_str().unwrap()),
        Some(json!({"key_post": true})),
    );
    assert_eq!(status, 200, "{body}");

    let out = std::env::var_os("WHEREABOUTS_PARITY_OUT").map(std::path::PathBuf::from);
    if let Some(dir) = &out {
        std::fs::create_dir_all(dir).unwrap();
    }
    let mut compared = 0;
    for (login, substitute) in [
        ("zheng", &chief),
        ("wang", &clerk),
        ("wu", &chief),
        ("sun", &deputy),
        ("li", &principal),
        ("chen", &center_head),
        ("zhao", &district_deputy),
    ] {
        let client = d.client(login);
        let (status, snapshot) = client.call("GET", "/api/v1/me/policy-snapshot", None);
        assert_eq!(status, 200, "{snapshot}");
        let bindings = PolicySnapshot::from_json(snapshot.to_string()).unwrap();
        for lang in [whereabouts_core::Lang::ZhCn, whereabouts_core::Lang::En] {
            for draft in drafts(today, substitute) {
                let before = beijing_now();
                let (status, server) = client.call_with_lang(
                    "/api/v1/assessments",
                    json!({"draft": draft}),
                    if lang == whereabouts_core::Lang::En {
                        "en"
                    } else {
                        "zh-CN"
                    },
                );
                let after = beijing_now();
                assert_eq!(status, 200, "{server}");
                let typed = whereabouts_mobile::draft_from_json(draft.to_string()).unwrap();
                // The server read the clock between `before` and `after`; the
                // answer must match the bindings' at one of them.
                let at = |now| {
                    serde_json::to_value(bindings.assess(typed.clone(), now, lang).unwrap())
                        .unwrap()
                };
                let (early, late) = (at(before), at(after));
                assert!(
                    server == early || server == late,
                    "{login} {draft}\n server:   {server}\n bindings: {early}"
                );
                compared += 1;
                if let Some(dir) = &out {
                    let mut input = snapshot.clone();
                    let map = input.as_object_mut().unwrap();
                    for key in ["schema_version", "generated_at"] {
                        map.remove(key);
                    }
                    map.insert(
                        "now".into(),
                        json!(if server == early { before } else { after }.to_rfc3339()),
                    );
                    map.insert(
                        "lang".into(),
                        json!(if lang == whereabouts_core::Lang::En {
                            "en"
                        } else {
                            "zh-CN"
                        }),
                    );
                    map.insert("draft".into(), draft.clone());
                    let case = json!({"name": format!("parity_{compared:04}"),
                        "description": format!("{login}: the server's answer to POST /api/v1/assessments"),
                        "input": input, "expected": server});
                    std::fs::write(
                        dir.join(format!("parity_{compared:04}.json")),
                        serde_json::to_vec_pretty(&case).unwrap(),
                    )
                    .unwrap();
                }
            }
        }
    }
    assert!(compared >= 7 * 2 * 60, "compared {compared}");
}
