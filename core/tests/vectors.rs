//! Runs every shared test vector in `tests/vectors/` through the core's assessment.
//! The server and the mobile bindings run the same files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

#[path = "../../tests/vectors/compare.rs"]
mod compare;
use compare::normalise;
use std::path::PathBuf;
use whereabouts_core::{AssessmentInput, assess};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

#[test]
fn every_shared_vector_gives_the_expected_assessment() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(vectors_dir())
        .expect("tests/vectors exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 40,
        "expected at least 40 vectors, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let case: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let input: AssessmentInput = serde_json::from_value(case["input"].clone())
            .unwrap_or_else(|e| panic!("{}: input: {e}", path.display()));
        let actual = normalise(serde_json::to_value(assess(&input)).unwrap());
        let expected = normalise(case["expected"].clone());
        if actual != expected {
            failures.push(format!(
                "{}\n  expected: {}\n  actual:   {}",
                path.file_name().unwrap().to_string_lossy(),
                expected,
                actual
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors differ:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
