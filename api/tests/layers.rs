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
            let route = format!("web::post().to({module}::{name})");
            let posted = app.contains(&route);
            // The middleware leaves the caller's second factor alone too: its
            // answers (a secret, recovery codes) are never stored.
            let own_factor = app
                .lines()
                .filter(|line| line.contains(&route))
                .all(|line| line.contains("\"/me/mfa/"));
            let body = handler.split("\npub async fn ").next().unwrap_or_default();
            if posted && !own_factor && body.contains(".transaction(None") {
                missing.push(format!("{module}::{name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "POST handlers that drop the claim: {missing:?}"
    );
}

/// The route modules: the files under `src/routes/` but `mod.rs`, by name.
fn route_modules() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .filter_map(|path| path.file_stem()?.to_str().map(str::to_owned))
        .filter(|name| name != "mod")
        .collect();
    names.sort();
    names
}

/// Whether `text` starts with the name `module`, a whole identifier.
fn names_module(text: &str, module: &str) -> bool {
    text.strip_prefix(module).is_some_and(|rest| {
        !rest
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// The route modules that `rest`, the text after `crate::routes::` or
/// `super::`, names first: one name, or each name of a `{...}` group.
fn named_modules<'a>(rest: &str, modules: &'a [String]) -> Vec<&'a str> {
    let mut rest = rest;
    while let Some(r) = rest.strip_prefix("super::") {
        rest = r;
    }
    let names: Vec<&str> = match rest.strip_prefix('{') {
        Some(group) => group
            .split('}')
            .next()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .collect(),
        None => vec![rest],
    };
    modules
        .iter()
        .filter(|m| names.iter().any(|name| names_module(name, m)))
        .map(String::as_str)
        .collect()
}

#[test]
fn no_route_file_imports_another_route_file() {
    // What two routes share lives in the data layer (`src/store/`) or another
    // module beside the routes, so each route file reads on its own.
    let routes = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    let modules = route_modules();
    assert!(modules.len() > 10, "route modules not found: {modules:?}");
    let mut found = Vec::new();
    for (path, text) in server_sources() {
        let Ok(relative) = path.strip_prefix(&routes) else {
            continue;
        };
        if relative == Path::new("mod.rs") {
            continue;
        }
        let own = relative.file_stem().and_then(|s| s.to_str()).unwrap();
        for (n, line) in text.lines().enumerate() {
            // `crate::routes::` or `super::` (`super::super::` too) followed
            // by another route module's name, alone or in a `{...}` group, or
            // the routes module itself.
            let mut names_a_route =
                line.contains("crate::routes::{") || line.contains("crate::routes;");
            for prefix in ["crate::routes::", "super::"] {
                for (at, _) in line.match_indices(prefix) {
                    let rest = &line[at + prefix.len()..];
                    if named_modules(rest, &modules).iter().any(|m| *m != own) {
                        names_a_route = true;
                    }
                }
            }
            if names_a_route {
                found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "route files naming another route file; move what they share into `src/store/`:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_store_never_calls_a_route() {
    let store = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
    let mut files = 0;
    let mut found = Vec::new();
    for (path, text) in server_sources() {
        if !path.starts_with(&store) {
            continue;
        }
        files += 1;
        for (n, line) in text.lines().enumerate() {
            if line.contains("crate::routes") || line.contains("whereabouts_api::routes") {
                found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(files > 0, "no sources under {}", store.display());
    assert!(
        found.is_empty(),
        "the data layer calls a route:\n{}",
        found.join("\n")
    );
}

#[test]
fn route_files_stay_under_500_lines() {
    // Route files do HTTP: extract, authorise, call the store and the core,
    // answer.
    let routes = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    let mut found = Vec::new();
    for (path, text) in server_sources() {
        if !path.starts_with(&routes) {
            continue;
        }
        let lines = text.lines().count();
        if lines >= 500 {
            found.push(format!("{}: {lines} lines", path.display()));
        }
    }
    assert!(
        found.is_empty(),
        "route files too long:\n{}",
        found.join("\n")
    );
}

#[test]
fn route_files_run_no_sql() {
    // A route file extracts, authorises, calls the store and the core, and
    // answers: every query, and every row type diesel reads, is in the store.
    let routes = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    let mut found = Vec::new();
    for (path, text) in server_sources() {
        if !path.starts_with(&routes) {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            if ["crate::schema", "diesel", "sql_query", "PgConnection"]
                .iter()
                .any(|word| line.contains(word))
            {
                found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "SQL in a route file; move it into src/store/:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_sql_lives_in_the_store() {
    // Outside the store only the schema itself, the pool's ping and
    // migrations (`db.rs`) and the test databases (`testing.rs`) speak SQL.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let allowed = ["schema.rs", "db.rs", "testing.rs"].map(|file| src.join(file));
    let words = [
        "crate::schema",
        "sql_query",
        "diesel::insert_into",
        "diesel::update",
        "diesel::delete",
        "diesel::select",
        "diesel::dsl",
        "#[diesel(",
    ];
    let mut found = Vec::new();
    for (path, text) in server_sources() {
        if path.starts_with(src.join("store")) || allowed.contains(&path) {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            if words.iter().any(|word| line.contains(word)) {
                found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "SQL outside src/store/:\n{}",
        found.join("\n")
    );
}
