//! One assessment through the bindings' Rust surface (the code each FFI call
//! runs, minus the FFI), beside the core's own `assess` on the same input.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use whereabouts_mobile::{PolicySnapshot, draft_from_json};

const VECTOR: &str = include_str!("../../tests/vectors/001_may_day_report_working_days.json");

fn bench(c: &mut Criterion) {
    let vector: serde_json::Value = serde_json::from_str(VECTOR).unwrap_or_default();
    let input = &vector["input"];
    let snapshot = PolicySnapshot::from_json(bench_snapshot(input).to_string()).ok();
    let Some(snapshot) = snapshot else { return };
    let draft = draft_from_json(input["draft"].to_string()).ok();
    let Some(draft) = draft else { return };
    let now = chrono::DateTime::parse_from_rfc3339(input["now"].as_str().unwrap_or_default()).ok();
    let Some(now) = now else { return };
    c.bench_function("bindings: PolicySnapshot::assess", |b| {
        b.iter(|| snapshot.assess(black_box(draft.clone()), now, whereabouts_core::Lang::ZhCn))
    });
    let core_input: Option<whereabouts_core::AssessmentInput> =
        serde_json::from_value(input.clone()).ok();
    if let Some(core_input) = core_input {
        c.bench_function("core: assess", |b| {
            b.iter(|| whereabouts_core::assess(black_box(&core_input)))
        });
    }
    let json = bench_snapshot(input).to_string();
    c.bench_function("bindings: PolicySnapshot::from_json", |b| {
        b.iter(|| PolicySnapshot::from_json(black_box(json.clone())))
    });
}

/// The snapshot a server would hand the vector's filer.
pub fn bench_snapshot(input: &serde_json::Value) -> serde_json::Value {
    let mut snapshot = input.clone();
    if let Some(map) = snapshot.as_object_mut() {
        for key in ["draft", "now", "lang"] {
            map.remove(key);
        }
        map.insert("schema_version".into(), 1.into());
        map.insert("generated_at".into(), "2026-01-01T00:00:00Z".into());
        map.entry("settings")
            .or_insert(serde_json::json!({"home_code": "110000", "time_zone": "Asia/Shanghai"}));
        map.entry("org")
            .or_insert(serde_json::json!({"units": [], "accounts": [], "role_grants": []}));
        map.entry("special_periods")
            .or_insert(serde_json::json!([]));
        map.entry("calendar")
            .or_insert(serde_json::json!({"years": []}));
    }
    snapshot
}

criterion_group!(benches, bench);
criterion_main!(benches);
