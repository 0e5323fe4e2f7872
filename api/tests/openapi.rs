//! The OpenAPI document: the checked-in copy must match the generated one, it
//! must describe every public route, and the server must serve it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::{Value, json};

const CHECKED_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");

#[test]
fn the_checked_in_document_matches_the_generated_one() {
    let generated = whereabouts_api::openapi::document();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(CHECKED_IN, format!("{generated}\n")).unwrap();
    }
    let checked_in = std::fs::read_to_string(CHECKED_IN).unwrap_or_default();
    assert!(
        checked_in.trim_end() == generated.trim_end(),
        "openapi/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test -p whereabouts-api --test openapi` and commit it"
    );
}

#[test]
fn the_document_describes_every_route_of_the_contract_with_its_errors() {
    let doc: Value = serde_json::from_str(&whereabouts_api::openapi::document()).unwrap();
    let routes = [
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/auth/refresh"),
        ("post", "/api/v1/auth/logout"),
        ("get", "/api/v1/me"),
        ("put", "/api/v1/me/password"),
        ("get", "/api/v1/me/policy-snapshot"),
        ("post", "/api/v1/units"),
        ("get", "/api/v1/units/{id}"),
        ("patch", "/api/v1/units/{id}"),
        ("get", "/api/v1/units/{id}/children"),
        ("put", "/api/v1/units/{id}/leaders"),
        ("put", "/api/v1/units/{id}/policy"),
        ("get", "/api/v1/units/{id}/policy"),
        ("get", "/api/v1/units/{id}/effective-policy"),
        ("get", "/api/v1/units/{id}/policy-coverage"),
        ("post", "/api/v1/accounts"),
        ("get", "/api/v1/accounts"),
        ("get", "/api/v1/accounts/{id}"),
        ("patch", "/api/v1/accounts/{id}"),
        ("post", "/api/v1/accounts/{id}/suspend"),
        ("post", "/api/v1/accounts/{id}/reactivate"),
        ("post", "/api/v1/accounts/{id}/reset-password"),
        ("post", "/api/v1/accounts/import"),
        ("put", "/api/v1/accounts/{id}/roles"),
        ("post", "/api/v1/special-periods"),
        ("get", "/api/v1/special-periods"),
        ("get", "/api/v1/special-periods/{id}"),
        ("patch", "/api/v1/special-periods/{id}"),
        ("put", "/api/v1/calendar/{year}"),
        ("get", "/api/v1/calendar/{year}"),
        ("post", "/api/v1/assessments"),
        ("post", "/api/v1/filings"),
        ("get", "/api/v1/filings"),
        ("get", "/api/v1/filings/{id}"),
        ("get", "/api/v1/filings/{id}/events"),
        ("post", "/api/v1/filings/{id}/submit"),
        ("post", "/api/v1/filings/{id}/withdraw"),
        ("post", "/api/v1/filings/{id}/cancel"),
        ("post", "/api/v1/filings/{id}/depart"),
        ("post", "/api/v1/filings/{id}/return"),
        ("post", "/api/v1/filings/{id}/extensions"),
        ("post", "/api/v1/filings/{id}/approve"),
        ("post", "/api/v1/filings/{id}/reject"),
        ("get", "/api/v1/approvals/pending"),
        ("put", "/api/v1/me/delegation"),
        ("delete", "/api/v1/me/delegation"),
        ("get", "/api/v1/audit/verify"),
        ("get", "/api/v1/me/discrepancies"),
        ("get", "/api/v1/discrepancies/{id}"),
        ("get", "/api/v1/discrepancies/{id}/events"),
        ("post", "/api/v1/discrepancies/{id}/explain"),
        ("post", "/api/v1/discrepancies/{id}/confirm"),
        ("post", "/api/v1/discrepancies/{id}/clear"),
    ];
    for (method, path) in routes {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        let public = matches!(path, "/healthz" | "/readyz") || path.starts_with("/api/v1/auth/");
        if !public {
            assert!(
                op["security"].to_string().contains("bearer"),
                "{method} {path} lacks the bearer scheme"
            );
            assert!(
                op["responses"]["401"].is_object(),
                "{method} {path} lacks its 401"
            );
        }
        if op["requestBody"].is_object() && !path.ends_with("/import") {
            assert!(
                op["responses"]["400"].is_object(),
                "{method} {path} lacks its 400"
            );
            assert!(
                op["responses"]["422"].is_object(),
                "{method} {path} lacks its 422"
            );
        }
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[actix_web::test]
async fn the_server_serves_the_document_and_the_interactive_page() {
    let app = common::TestApp::new().await;
    let res = app.get("/api/v1/openapi.json", "").await;
    assert_eq!(res.status.as_u16(), 200);
    let served = serde_json::to_string_pretty(&res.body).unwrap();
    let generated: Value = serde_json::from_str(&whereabouts_api::openapi::document()).unwrap();
    assert_eq!(res.body, generated, "{}", &served[..200.min(served.len())]);
    let page = app.get("/docs/", "").await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(
        page.body.as_str().unwrap_or_default().contains("swagger"),
        "{}",
        page.body
    );
    let redirect = app.get("/docs", "").await;
    assert_eq!(redirect.status.as_u16(), 302);
}

/// Every operation of the document, with its path and method.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.clone(), path.clone(), op));
        }
    }
    out
}

fn document() -> Value {
    serde_json::from_str(&whereabouts_api::openapi::document()).unwrap()
}

#[test]
fn every_operation_id_is_unique_and_a_verb_then_a_noun() {
    let doc = document();
    const VERBS: &[&str] = &[
        "get",
        "list",
        "create",
        "update",
        "set",
        "delete",
        "end",
        "import",
        "export",
        "assess",
        "submit",
        "withdraw",
        "cancel",
        "report",
        "request",
        "approve",
        "reject",
        "verify",
        "register",
        "check",
        "return",
        "run",
        "explain",
        "confirm",
        "clear",
        "mark",
        "log",
        "refresh",
        "change",
        "suspend",
        "reactivate",
        "reset",
        "revoke",
        "enrol",
        "complete",
        "remove",
    ];
    let mut seen = std::collections::BTreeMap::new();
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(
            id.chars().all(|c| c.is_ascii_alphanumeric())
                && id.starts_with(|c: char| c.is_ascii_lowercase()),
            "{id} is not camelCase"
        );
        let verb: String = id.chars().take_while(char::is_ascii_lowercase).collect();
        assert!(
            VERBS.contains(&verb.as_str()),
            "{id} does not begin with a verb"
        );
        assert!(id.len() > verb.len(), "{id} names no noun");
        if let Some(other) = seen.insert(id.to_owned(), format!("{method} {path}")) {
            panic!("{id} names both {other} and {method} {path}");
        }
    }
    assert!(seen.len() >= 80, "{}", seen.len());
}

/// The names utoipa gives the types that derive `ToSchema`, read from the
/// sources: a type's own name, or the one `#[schema(as = ...)]` gives it.
fn schema_names_in_sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in ["src", "../core/src"] {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let lines: Vec<&str> = text.lines().collect();
                for (i, line) in lines.iter().enumerate() {
                    // A page named by `page_schema!`: its first argument
                    // after the doc comments.
                    if line.trim_start().starts_with("crate::page_schema!(") {
                        let name = lines[i + 1..]
                            .iter()
                            .map(|l| l.trim())
                            .find(|l| !l.starts_with("///"))
                            .and_then(|l| l.strip_suffix(','))
                            .unwrap_or_default();
                        out.push((name.to_owned(), format!("{}:{}", path.display(), i + 1)));
                        continue;
                    }
                    // A derive list, on one line or as rustfmt breaks it.
                    let attribute = line.trim_start();
                    if !(attribute.starts_with("#[derive(")
                        || attribute.starts_with("#[cfg_attr(") && attribute.contains("derive("))
                    {
                        continue;
                    }
                    let end = (i..lines.len())
                        .find(|&j| lines[j].contains(")]"))
                        .unwrap_or(i);
                    if !lines[i..=end].iter().any(|l| l.contains("ToSchema")) {
                        continue;
                    }
                    let mut alias = None;
                    for next in &lines[i + 1..] {
                        let next = next.trim();
                        if let Some(rest) = next.strip_prefix("#[schema(as = ") {
                            alias = rest.split(')').next().map(str::to_owned);
                        }
                        let item = next
                            .strip_prefix("pub struct ")
                            .or_else(|| next.strip_prefix("pub enum "))
                            .or_else(|| next.strip_prefix("struct "))
                            .or_else(|| next.strip_prefix("enum "));
                        if let Some(item) = item {
                            let name: String = item
                                .chars()
                                .take_while(|c| c.is_alphanumeric() || *c == '_')
                                .collect();
                            let place = format!("{}:{}", path.display(), i + 1);
                            // The schema struct inside `page_schema!` itself
                            // is named by its invocations.
                            if !name.is_empty() {
                                out.push((alias.unwrap_or(name), place));
                            }
                            break;
                        }
                    }
                }
            }
        }
    }
    out
}

#[test]
fn no_two_rust_types_share_a_schema_name() {
    let names = schema_names_in_sources();
    assert!(names.len() > 100, "{}", names.len());
    let mut seen: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
    for (name, place) in &names {
        if let Some(other) = seen.insert(name, place) {
            panic!("{name} is the schema name of {other} and of {place}");
        }
    }
    // And every schema of the document is one of them, or an alias
    // declared with `value_type`.
    let doc = document();
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        assert!(
            seen.contains_key(name.as_str()) || name == "ProblemCode",
            "{name} comes from no type of the sources"
        );
    }
}

#[test]
fn the_problem_codes_of_the_document_are_exactly_those_the_server_constructs() {
    use whereabouts_api::error::ProblemCode;
    let doc = document();
    let schema = &doc["components"]["schemas"]["ProblemCode"];
    let documented: Vec<&str> = schema["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let known: Vec<&str> = ProblemCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(documented, known);
    assert_eq!(
        doc["components"]["schemas"]["Problem"]["properties"]["code"]["$ref"],
        "#/components/schemas/ProblemCode"
    );
    let description = schema["description"].as_str().unwrap();
    for code in ProblemCode::ALL {
        // What goes on the wire is the documented name.
        assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        assert!(
            description.contains(&format!("`{}` ({})", code.as_str(), code.status())),
            "{code} is not explained"
        );
        assert!(!code.meaning().is_empty());
    }
    // Every code is constructed somewhere in the server, outside the table
    // that declares it: none is documented that the server never sends.
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = String::new();
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let text = match text.find("problem_codes! {") {
                    Some(start) => {
                        let end = start + text[start..].find("\n}\n").unwrap();
                        format!("{}{}", &text[..start], &text[end..])
                    }
                    None => text,
                };
                // Codes named only in unit tests do not count.
                let text = text.split("#[cfg(test)]").next().unwrap_or_default();
                sources.push_str(text);
            }
        }
    }
    for code in ProblemCode::ALL {
        let name = format!("{code:?}");
        assert!(
            sources.contains(&format!("ProblemCode::{name}")),
            "ProblemCode::{name} ({code}) is documented but never constructed"
        );
    }
    // And codes are never written as bare strings into an error.
    for pattern in [
        "Conflict(\"",
        "Refused(\"",
        "Unauthorized(\"",
        "Unprocessable(\"",
        "with_code(\"",
    ] {
        assert!(
            !sources.contains(pattern),
            "a code is written as a string: {pattern}"
        );
    }
}

/// Every schema object of the document, wherever it sits.
fn walk<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) => {
            out.push((at.clone(), value));
            for (key, child) in map {
                walk(child, format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_one_of_member_is_titled_or_a_reference_and_no_object_is_left_untyped() {
    let doc = document();
    let mut nodes = Vec::new();
    walk(
        &doc["components"]["schemas"],
        "#/components/schemas".into(),
        &mut nodes,
    );
    walk(&doc["paths"], "#/paths".into(), &mut nodes);
    for (at, node) in &nodes {
        for key in ["oneOf", "anyOf"] {
            for (i, member) in node[key].as_array().into_iter().flatten().enumerate() {
                let named = member.get("$ref").is_some()
                    || member.get("title").is_some()
                    || member["type"] == "null";
                assert!(
                    named,
                    "{at}/{key}/{i} has no title and is no reference: {member}"
                );
            }
        }
        // A bare `{"type": "object"}` gives a client nothing to work with.
        if node["type"] == "object" {
            let shaped = node.get("properties").is_some()
                || node.get("additionalProperties").is_some()
                || node.get("oneOf").is_some();
            assert!(shaped, "{at} is an object of no declared shape");
        }
    }
}

#[test]
fn closed_sets_are_enums_and_kind_shaped_data_is_typed() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let enum_of = |schema: &Value| -> Vec<String> {
        let schema = match schema["$ref"].as_str().or_else(|| {
            schema["oneOf"]
                .as_array()
                .and_then(|v| v.iter().find_map(|m| m["$ref"].as_str()))
        }) {
            Some(reference) => &schemas[reference.trim_start_matches("#/components/schemas/")],
            None => schema,
        };
        schema["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("not an enum: {schema}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "LedgerEntry",
            "requirement",
            &["none", "report", "approval"],
        ),
        (
            "Extension",
            "status",
            &["pending", "approved", "rejected", "recorded"],
        ),
        ("Document", "state", &["held", "checked_out", "with_holder"]),
        (
            "Notification",
            "kind",
            &[
                "approval_requested",
                "filing_decided",
                "extension_decided",
                "return_report_due",
                "return_overdue",
            ],
        ),
        (
            "FilingEvent",
            "action",
            &[
                "create", "submit", "approve", "reject", "withdraw", "cancel", "depart", "return",
                "extend",
            ],
        ),
        (
            "FilingEvent",
            "to_status",
            &[
                "draft",
                "pending",
                "approved",
                "recorded",
                "rejected",
                "withdrawn",
                "cancelled",
                "away",
                "returned",
            ],
        ),
        ("ApprovalStep", "decision", &["approved", "rejected"]),
        (
            "EvidenceRecordInput",
            "status",
            &["present", "out", "absent", "leave"],
        ),
        ("EvidenceRecordInput", "direction", &["exit", "entry"]),
    ];
    for (schema, property, values) in cases {
        let found = enum_of(&schemas[schema]["properties"][property]);
        for value in *values {
            assert!(
                found.iter().any(|f| f == value),
                "{schema}.{property} lacks {value}: {found:?}"
            );
        }
    }
    let problems = &schemas["UnitReport"]["properties"]["problems"]["items"];
    assert_eq!(
        enum_of(problems),
        [
            "no_rules",
            "incomplete_rules",
            "not_extended",
            "unreported_people",
            "late_filings"
        ]
    );
    let date = &schemas["EvidenceRecordInput"]["properties"]["date"];
    assert_eq!(date["format"], "date", "{date}");
    for (schema, property, shape) in [
        ("FilingEvent", "data", "FilingEventData"),
        ("Notification", "data", "NotificationData"),
        ("Issue", "params", "IssueParams"),
    ] {
        assert_eq!(
            schemas[schema]["properties"][property]["$ref"],
            format!("#/components/schemas/{shape}"),
            "{schema}.{property}"
        );
        let shaped = &schemas[shape];
        assert!(
            shaped["oneOf"].as_array().is_some_and(|v| v.len() >= 3)
                || shaped["properties"]
                    .as_object()
                    .is_some_and(|p| p.len() >= 10),
            "{shape} is not typed: {shaped}"
        );
    }
    // The policy rule's return report and the filer's are two schemas.
    assert_eq!(
        schemas["Rule"]["properties"]["return_report"]["oneOf"][1]["$ref"],
        "#/components/schemas/ReturnReport"
    );
    assert!(schemas["ReturnReport"]["properties"]["within_hours"].is_object());
    assert!(schemas["ReturnReportInput"]["properties"]["report"].is_object());
}

#[test]
fn public_operations_need_no_token_and_the_document_names_its_server() {
    let doc = document();
    assert_eq!(doc["servers"][0]["url"], "/");
    for (method, path, op) in operations(&doc) {
        let public = !path.starts_with("/api/v1/") || path.starts_with("/api/v1/auth/");
        if public {
            assert_eq!(op["security"], json!([]), "{method} {path}");
        } else {
            assert_eq!(op["security"], json!([{"bearer": []}]), "{method} {path}");
        }
        let errors = op["responses"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|s| s.starts_with('4'))
            .count();
        assert!(errors > 0, "{method} {path} lists no 4xx");
    }
}

#[test]
fn every_response_declares_the_headers_it_sends_and_request_headers_are_described() {
    let doc = document();
    for name in ["IfMatch", "IfNoneMatch", "IdempotencyKey", "AcceptLanguage"] {
        let parameter = &doc["components"]["parameters"][name];
        assert!(
            parameter["description"]
                .as_str()
                .is_some_and(|d| d.len() > 40),
            "{name}"
        );
        assert!(parameter.get("example").is_some(), "{name}");
    }
    assert!(
        doc["components"]["parameters"]["IfMatch"]["description"]
            .as_str()
            .unwrap()
            .contains("quotes included")
    );
    let header = |response: &Value, name: &str| {
        response["headers"][name]["$ref"] == format!("#/components/headers/{name}")
    };
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap();
        let api = path.starts_with("/api/v1/");
        let parameters = op["parameters"].to_string();
        for (status, response) in op["responses"].as_object().unwrap() {
            if api || status.starts_with('2') {
                assert!(header(response, "X-Request-Id"), "{id} {status}");
            }
            if status == "429" {
                assert!(header(response, "Retry-After"), "{id} {status}");
            }
            if status == "401" {
                assert!(header(response, "WWW-Authenticate"), "{id} {status}");
            }
            if status.starts_with('2')
                && method == "post"
                && api
                && !path.starts_with("/api/v1/auth/")
            {
                assert!(header(response, "Idempotent-Replayed"), "{id} {status}");
            }
            if status.starts_with('2') && id.starts_with("export") {
                assert!(header(response, "Content-Disposition"), "{id} {status}");
            }
        }
        if api {
            assert!(
                parameters.contains("#/components/parameters/AcceptLanguage"),
                "{id}"
            );
        }
        if method == "post" && api && !path.starts_with("/api/v1/auth/") {
            assert!(
                parameters.contains("#/components/parameters/IdempotencyKey"),
                "{id}"
            );
        }
        assert!(
            !parameters.contains("\"If-Match\"") && !parameters.contains("\"Idempotency-Key\""),
            "{id} declares a header of its own instead of the shared one"
        );
    }
    for id in [
        "getFiling",
        "approveFiling",
        "getUnit",
        "getAccount",
        "getDocument",
        "getPolicySnapshot",
    ] {
        let (_, _, op) = operations(&doc)
            .into_iter()
            .find(|(_, _, op)| op["operationId"] == id)
            .unwrap();
        assert!(header(&op["responses"]["200"], "ETag"), "{id}");
    }
}

#[test]
fn optional_bodies_are_optional_and_never_null() {
    let doc = document();
    for (method, path) in [
        ("post", "/api/v1/filings/{id}/approve"),
        ("post", "/api/v1/filings/{id}/return"),
        ("post", "/api/v1/accounts/{id}/reset-password"),
    ] {
        let body = &doc["paths"][path][method]["requestBody"];
        assert_eq!(body["required"], false, "{method} {path}");
        let schema = &body["content"]["application/json"]["schema"];
        assert!(schema["$ref"].is_string(), "{method} {path}: {schema}");
    }
    // Uploads are multipart forms with a binary file part; exports are files.
    for path in ["/api/v1/accounts/import", "/api/v1/evidence/imports"] {
        let content = &doc["paths"][path]["post"]["requestBody"]["content"];
        assert!(content["multipart/form-data"].is_object(), "{path}");
        assert!(content.get("text/csv").is_none(), "{path}");
    }
    let xlsx = &doc["paths"]["/api/v1/ledger/export.xlsx"]["get"]["responses"]["200"]["content"]["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]
        ["schema"];
    assert_eq!(*xlsx, json!({"type": "string", "format": "binary"}));
    let csv = &doc["paths"]["/api/v1/ledger/export.csv"]["get"]["responses"]["200"]["content"]["text/csv"]
        ["schema"];
    assert_eq!(*csv, json!({"type": "string"}));
}

#[test]
fn every_operation_is_described_and_every_write_has_an_example() {
    let doc = document();
    assert!(
        !doc.to_string().contains("API.md"),
        "the document refers to a page third parties do not have"
    );
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap();
        let summary = op["summary"].as_str().unwrap_or_default();
        assert!(
            !summary.is_empty() && !summary.contains('\n'),
            "{id}: summary {summary:?}"
        );
        assert!(
            op["description"].as_str().is_some_and(|d| d.len() > 60),
            "{id} has no description"
        );
        for (status, response) in op["responses"].as_object().unwrap() {
            let description = response["description"].as_str().unwrap_or_default();
            assert!(
                !status.starts_with('2') || !matches!(description, "" | "Done" | "Created"),
                "{id} {status}: {description:?}"
            );
        }
        let json = &op["requestBody"]["content"]["application/json"];
        if matches!(method.as_str(), "post" | "put" | "patch") && json.is_object() {
            assert!(
                json.get("example").is_some() || json.get("examples").is_some(),
                "{method} {path} ({id}) has no example request"
            );
        }
    }
}
