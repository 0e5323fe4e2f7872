//! The time of one assessment: a section chief's May Day trip through a
//! three-rule policy with a two-step approver chain and a special period.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use whereabouts_core::{AssessmentInput, assess};

fn input() -> AssessmentInput {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors");
    let mut files: Vec<_> = std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    // The benchmark case is the richest vector: the one with the most approvers.
    files
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .max_by_key(|v| v["expected"]["approvers"].as_array().map_or(0, Vec::len))
        .and_then(|v| serde_json::from_value(v["input"].clone()).ok())
        .unwrap_or_else(|| std::process::exit(1))
}

fn bench(c: &mut Criterion) {
    let input = input();
    // Warm the embedded reference tables so the figure is the assessment alone.
    black_box(assess(&input));
    c.bench_function("assess_one_trip", |b| b.iter(|| assess(black_box(&input))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
