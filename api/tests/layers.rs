#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The server's layers, read from its sources: what a newcomer can rely on
//! when finding their way (see `api/README.md`).

use std::fs;
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn server_sources() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect()
}

#[test]
fn no_state_hides_in_task_or_thread_locals() {
    let found: Vec<String> = server_sources()
        .iter()
        .filter(|(_, text)| text.contains("task_local!") || text.contains("thread_local!"))
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(
        found.is_empty(),
        "state passed out of sight; pass it in a `Tx` or an argument: {found:?}"
    );
}

#[test]
fn an_internal_error_never_drops_its_cause() {
    let mut found = Vec::new();
    for (path, text) in server_sources() {
        for (n, line) in text.lines().enumerate() {
            if line.contains("|_| ApiError::Internal")
                || line.contains("ok_or(ApiError::Internal)")
                || line.contains("Err(ApiError::Internal")
            {
                found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "use ApiError::internal(\"what was being done\") or ApiError::broken(\"what is missing\"), \
         so the log says why:\n{}",
        found.join("\n")
    );
}

#[test]
fn every_post_handler_that_opens_a_transaction_hands_it_the_idempotency_claim() {
    // Without the claim, a retried POST could do its change twice.
    let app = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app.rs")).unwrap();
    let mut missing = Vec::new();
    for (path, text) in server_sources() {
        let Some(module) = path
            .strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes"))
            .ok()
            .and_then(|p| p.file_stem())
            .and_then(|s| s.to_str())
        else {
            continue;
        };
        if module == "auth" {
            // The idempotency middleware leaves /auth/ alone: a retried login
            // or refresh is a new one.
            continue;
        }
        for handler in text.split("\npub async fn ").skip(1) {
            let name: String = handler
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let posted = app.contains(&format!("web::post().to({module}::{name})"));
            let body = handler.split("\npub async fn ").next().unwrap_or_default();
            if posted && body.contains(".transaction(None") {
                missing.push(format!("{module}::{name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "POST handlers that drop the claim: {missing:?}"
    );
}
