//! The OpenAPI document: every route, schema, error and the bearer scheme.

use crate::error::Problem;
use crate::routes::{
    access_log, accounts, approvals, assessments, audit, auth, calendar, discrepancies, documents,
    evidence, filings, findings, health, inspections, ledger, me, mfa, notifications, policies,
    roster, sessions, special_periods, units,
};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Whereabouts API", description = "Whereabouts reporting for public officials. Before a cadre leaves the home \
jurisdiction (Beijing by default) or travels privately abroad, to Hong Kong, Macau or Taiwan, they file the trip; \
their unit's policy decides whether it is simply recorded or must be approved, by whom and by when. Units and the \
inspectors above them keep a ledger of every filing, know who is away, reconcile attendance, itinerary and \
border-crossing evidence against the filings (the people concerned then explain what it finds), and run \
inspection campaigns with tracked rectification.\n\n\
**Authentication.** `logIn` answers an access token (a short-lived JWT) and a single-use refresh token. Send \
`Authorization: Bearer <access_token>` on every operation except `logIn`, `refreshToken`, `logOut`, the health \
checks and this document, and trade the refresh token for a new pair with `refreshToken` before the access token \
expires. For an account with a second factor `logIn` answers `{mfa_required: true, mfa_token, expires_in}` \
instead: send the token with a code from the authenticator app to `completeMfaLogin` for the token pair. Accounts \
whose role must sign in with a second factor (by default every `system_admin`, `unit_admin` and `inspector`) get \
403 `mfa_enrollment_required` from everything but `getMe`, the `/me/mfa` operations and `/auth` until they enrol \
one with `enrolMfaTotp` and `confirmMfaTotp`.\n\n\
**Roles and scope.** Every account files its own trips. Beyond that, a role grant (`unit_admin`, `inspector` or \
`system_admin`) covers the subtree of the unit tree under its `unit_id`; a `system_admin` grant with no `unit_id` \
covers the whole tree. Something outside the caller's scope answers 404 `not_found`, as an unknown id does, so ids \
cannot be probed; a caller without the role an operation needs answers 403 `forbidden`.\n\n\
**Errors.** Every error is `application/problem+json` (RFC 9457) with `type`, `title`, `status`, `detail`, \
`request_id` and always `code`, a stable snake_case string to branch on (the `ProblemCode` schema lists every code \
with its status). Invalid input is 422 `validation_failed` with `errors`: `[{code, field, params, message}]`, the \
same issues the assessment of a trip reports; malformed JSON is 400 `malformed_request`; a lost update is 412; a \
duplicate or a conflicting state is 409; too many requests is 429 with `Retry-After`.\n\n\
**Lists** take `limit` (1 to 500, default 50) and `cursor`, and answer `{items, next_cursor}`: pass `next_cursor` \
back as `cursor` for the next page; it is `null` on the last.\n\n\
**Versions.** A resource with a `version` answers an `ETag` holding it as a quoted string, for example `\"3\"`. Send \
it back unchanged in `If-Match` to change the resource only if nobody changed it since; a stale one answers 412 \
`precondition_failed`.\n\n\
**Retries.** Every authenticated POST but the second factor's own under `/me/mfa/` accepts an `Idempotency-Key`: the same key and body from the same account \
answer the first answer again (with `Idempotent-Replayed: true`) and change nothing, so a phone on a flaky network \
never files or decides twice; the same key with a different body answers 422 `idempotency_key_reused`.\n\n\
**Language.** `Accept-Language: zh-CN` (the default) or `en` chooses the language of `title`, `detail` and each \
issue's `message`.\n\n\
**Dates.** Calendar dates such as `depart_on` are `YYYY-MM-DD` local dates of the jurisdiction's time zone \
(`Asia/Shanghai` by default) and lie in 1900-01-01..2100-12-31 (422 `date_out_of_range` otherwise); timestamps are \
RFC 3339 with an offset. Destinations are GB/T 2260 codes at province (`310000`) or prefecture (`320500`) level, \
`HK`, `MO`, `TW`, or ISO 3166-1 alpha-2 country codes.", version = "1.0.0"),
    paths(
        health::healthz, health::readyz,
        auth::login, auth::complete_mfa, auth::refresh, auth::logout,
        me::get, me::change_password, me::policy_snapshot, sessions::list, sessions::end,
        mfa::begin, mfa::confirm, mfa::remove,
        units::create, units::list, units::get, units::update, units::children, units::get_leaders, units::put_leaders,
        policies::put, policies::get, policies::get_effective, policies::coverage,
        accounts::create, accounts::list, accounts::import, accounts::get, accounts::update, accounts::suspend,
        accounts::reactivate, accounts::reset_password, sessions::revoke, mfa::reset, accounts::get_roles, accounts::put_roles,
        special_periods::create, special_periods::list, special_periods::get, special_periods::update,
        calendar::get, calendar::put,
        assessments::create,
        filings::create, filings::list, filings::get, filings::events, filings::submit, filings::withdraw,
        filings::cancel, filings::depart, filings::return_, filings::extend, approvals::approve, approvals::reject,
        approvals::pending, approvals::put_delegation, approvals::delete_delegation,
        audit::verify, access_log::list,
        roster::roster,
        ledger::ledger, ledger::export_ledger_csv, ledger::export_ledger_xlsx,
        documents::create, documents::list, documents::get, documents::checkout, documents::return_,
        inspections::create, inspections::list, inspections::get, inspections::get_report,
        findings::create_finding, findings::list_findings, findings::update_finding,
        findings::create_rectification, findings::update_rectification,
        evidence::import, evidence::reconcile, discrepancies::list, discrepancies::explain, discrepancies::confirm,
        discrepancies::mine, discrepancies::get, discrepancies::events, discrepancies::clear,
        notifications::feed, notifications::read, notifications::create_webhook, notifications::list_webhooks,
        notifications::delete_webhook,
    ),
    components(schemas(Problem, ledger::LedgerFormat)),
    modifiers(&BearerScheme, &ProblemResponses),
    tags(
        (name = "health", description = "Liveness and readiness probes; public"),
        (name = "auth", description = "Logging in (with a second factor, in two steps), refreshing the token pair and logging out; public (the credentials travel in the body)"),
        (name = "me", description = "The signed-in account: who it is, its password, its second factor, its sessions, and the policy snapshot a phone assesses trips with offline"),
        (name = "units", description = "The unit tree (jurisdictions, units, second-level units, departments) and each node's principal and deputies, which approver rules resolve to"),
        (name = "policies", description = "A unit's versioned reporting rules: which trips of which members need a report or an approval, by whom and how far ahead; inherited down the tree, with a coverage report per subtree"),
        (name = "accounts", description = "Accounts of cadres and staff: the rank, position and flags that select rules, suspension, password resets, CSV import and role grants"),
        (name = "special periods", description = "Named windows over a subtree (a holiday, an emergency) that raise requirements, add approvers and restrict destinations"),
        (name = "calendar", description = "Public holidays and adjusted working days, which notice periods in working days and the holiday period follow"),
        (name = "assessments", description = "What a trip would require (requirement, approvers, deadline, documents) without filing it"),
        (name = "filings", description = "Trips filed by cadres: drafts, filing, departure, return, extensions and history; and the away roster of a unit"),
        (name = "approvals", description = "Deciding the steps of a filing's approver chain, the approver's inbox, and delegating decisions for a while"),
        (name = "audit", description = "Verifying the tamper-evident audit chain that every change is written to"),
        (name = "notifications", description = "The in-app notification feed, and webhooks that deliver filing events to other systems"),
        (name = "supervision", description = "For unit admins and inspectors: the ledger and its exports, evidence imports, reconciliation, and the discrepancies it finds, which the people concerned explain and reviewers confirm or clear (self-examination)"),
        (name = "inspections", description = "Inspection campaigns over a subtree and window: the report, findings, measures and rectification items"),
        (name = "documents", description = "Passports and Hong Kong, Macau and Taiwan passes held in the unit's custody, checked out against approved trips")
    )
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Errors are `application/problem+json`: every 4xx and 5xx response a
/// handler declares (by status and description only) gets the `Problem`
/// body, every body-taking operation documents 408, 413 and 415, every
/// authenticated operation a role that must enrol a second factor is held
/// from documents 403, and every operation of the API documents a `default`
/// problem for the rest (429, 500, 503).
struct ProblemResponses;

fn problem(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/v1/") || path == "/api/v1/openapi.json" {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                for (status, response) in operation.responses.responses.iter_mut() {
                    if let (true, RefOr::T(response)) =
                        (status.starts_with('4') || status.starts_with('5'), response)
                    {
                        let content = response
                            .content
                            .shift_remove("application/json")
                            .unwrap_or_else(|| {
                                ContentBuilder::new()
                                    .schema(Some(Ref::from_schema_name("Problem")))
                                    .build()
                            });
                        response
                            .content
                            .insert("application/problem+json".to_owned(), content);
                    }
                }
                let responses = &mut operation.responses.responses;
                if operation.request_body.is_some() {
                    responses
                        .entry("408".to_owned())
                        .or_insert_with(|| problem("The body did not arrive in time"));
                    responses
                        .entry("413".to_owned())
                        .or_insert_with(|| problem("The body is too large"));
                    responses
                        .entry("415".to_owned())
                        .or_insert_with(|| problem("The body's media type is not accepted"));
                }
                if operation.security.is_some() && !crate::extract::open_before_enrolment(path) {
                    responses.entry("403".to_owned()).or_insert_with(|| {
                        problem(
                            "The caller's role must sign in with a second factor and has not \
                             enrolled one yet (`mfa_enrollment_required`)",
                        )
                    });
                }
                responses.entry("default".to_owned()).or_insert_with(|| {
                    problem("Any other error: 429 rate limited, 500 internal, 503 unavailable")
                });
            }
        }
    }
}

/// Operations that answer an `ETag` (a quoted version) with their success.
const ANSWERS_ETAG: &[&str] = &[
    "getPolicySnapshot",
    "createUnit",
    "getUnit",
    "updateUnit",
    "setUnitLeaders",
    "setUnitPolicy",
    "getUnitPolicy",
    "createAccount",
    "getAccount",
    "updateAccount",
    "suspendAccount",
    "reactivateAccount",
    "createSpecialPeriod",
    "getSpecialPeriod",
    "updateSpecialPeriod",
    "createFiling",
    "getFiling",
    "submitFiling",
    "withdrawFiling",
    "cancelFiling",
    "reportDeparture",
    "reportReturn",
    "requestExtension",
    "approveFiling",
    "rejectFiling",
    "registerDocument",
    "getDocument",
    "checkOutDocument",
    "returnDocument",
    "createInspection",
    "getInspection",
    "createFinding",
    "updateFinding",
    "createRectification",
    "updateRectification",
    "getDiscrepancy",
    "explainDiscrepancy",
    "confirmDiscrepancy",
    "clearDiscrepancy",
];

/// The media type of an XLSX workbook.
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Parameters kept for older clients, with a replacement of their own.
const DEPRECATED_PARAMETERS: &[(&str, &str)] = &[("listLedger", "format")];

/// The headers a response may carry, declared once under `components/headers`.
fn headers() -> Value {
    json!({
        "X-Request-Id": {
            "description": "The request's id: the one the client sent (1 to 64 letters, digits and dashes), or a new UUID. It is also in every problem body and on every server log line of the request.",
            "required": true,
            "schema": {"type": "string"},
            "example": "5f0c6a36-2d2b-4d8e-9a57-0b3a8f9d1c11"
        },
        "ETag": {
            "description": "The resource's version as a quoted string, for example `\"3\"` (the policy snapshot's is a quoted hash of its contents). Send it back unchanged in `If-Match` (or, for the snapshot, `If-None-Match`) to act only if nobody changed it since.",
            "required": true,
            "schema": {"type": "string", "pattern": "^\"[^\"]+\"$"},
            "example": "\"3\""
        },
        "Idempotent-Replayed": {
            "description": "`true` when this answer is the stored answer to an earlier request with the same `Idempotency-Key` and body: nothing was done again.",
            "schema": {"type": "string", "enum": ["true"]},
            "example": "true"
        },
        "Retry-After": {
            "description": "How many seconds to wait before trying again.",
            "required": true,
            "schema": {"type": "integer", "minimum": 1},
            "example": 5
        },
        "WWW-Authenticate": {
            "description": "Always `Bearer`: send an access token from `logIn` or `refreshToken`.",
            "required": true,
            "schema": {"type": "string"},
            "example": "Bearer"
        },
        "Content-Disposition": {
            "description": "An attachment with the export's file name.",
            "required": true,
            "schema": {"type": "string"},
            "example": "attachment; filename=\"ledger.csv\""
        }
    })
}

/// The request headers, declared once under `components/parameters`.
fn parameters() -> Value {
    json!({
        "IfMatch": {
            "name": "If-Match",
            "in": "header",
            "required": false,
            "description": "Change the resource only if it is still at this version: the `ETag` a read answered, quotes included (`\"3\"`, not `3`). A resource changed since answers 412 `precondition_failed`; without the header the change applies to the current version.",
            "schema": {"type": "string"},
            "example": "\"3\""
        },
        "IfNoneMatch": {
            "name": "If-None-Match",
            "in": "header",
            "required": false,
            "description": "The `ETag` of the copy the client holds, quotes included. When it is still current the answer is 304 with no body.",
            "schema": {"type": "string"},
            "example": "\"9f2c41d0\""
        },
        "IdempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": false,
            "description": "Any string of 1 to 255 characters the client makes up per intended change, for example a UUID, and sends again unchanged when it retries. The same key with the same body from the same account answers the first successful answer again, with `Idempotent-Replayed: true`, and changes nothing; with a different body it answers 422 `idempotency_key_reused`; while the first request is still running it answers 409 `idempotency_key_in_progress`. Refused requests are not stored, so a corrected retry may reuse the key.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            "example": "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"
        },
        "AcceptLanguage": {
            "name": "Accept-Language",
            "in": "header",
            "required": false,
            "description": "The language of `title`, `detail` and each issue's `message`: `zh-CN` (the default) or `en`.",
            "schema": {"type": "string"},
            "example": "en"
        }
    })
}

/// Names the component that replaces a handler's own declaration of a header.
fn header_parameter(name: &str) -> Option<&'static str> {
    match name.to_ascii_lowercase().as_str() {
        "if-match" => Some("IfMatch"),
        "if-none-match" => Some("IfNoneMatch"),
        "idempotency-key" => Some("IdempotencyKey"),
        "accept-language" => Some("AcceptLanguage"),
        _ => None,
    }
}

fn reference(kind: &str, name: &str) -> Value {
    json!({"$ref": format!("#/components/{kind}/{name}")})
}

fn default_description(status: &str) -> &'static str {
    match status {
        "200" => "Done",
        "201" => "Created",
        "204" => "Done; no body",
        "304" => "Not modified: the copy the client holds is current",
        "400" => {
            "Malformed request: the body or the query string does not parse (`malformed_request`)"
        }
        "401" => {
            "No valid access token (`unauthorized`, `invalid_token`, `token_expired`, `token_revoked`, `account_suspended`)"
        }
        "403" => "In scope, but not allowed to the caller (`forbidden`, `self_change_forbidden`)",
        "404" => "No such resource in the caller's scope (`not_found`)",
        "408" => "The body did not arrive in time (`request_timeout`)",
        "409" => "Not possible in the resource's current state",
        "412" => "`If-Match` names an older version (`precondition_failed`)",
        "413" => "The body is over the operation's limit (`payload_too_large`)",
        "415" => "The body's media type is not accepted (`unsupported_media_type`)",
        "422" => "The input does not validate (`validation_failed`, with `errors`)",
        "429" => "Too many requests (`rate_limited`): retry after `Retry-After` seconds",
        "500" => "An unexpected failure (`internal`); the request id finds it in the log",
        "503" => "The database is out of reach (`unavailable`): retry later",
        _ => "Any other problem",
    }
}

fn problem_response(status: &str) -> Value {
    json!({
        "description": default_description(status),
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

/// What utoipa's model cannot say, written onto the generated document: the
/// servers, public operations without security, header components and where
/// each is sent, truly optional bodies, and a description on every response.
fn finish(doc: &mut Value) {
    doc["servers"] = json!([{
        "url": "/",
        "description": "The server that serves this document (`whereabouts serve` listens on 127.0.0.1:8080 by default)"
    }]);
    doc["components"]["headers"] = headers();
    doc["components"]["parameters"] = parameters();
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            finish_operation(path, method, operation);
        }
    }
}

fn finish_operation(path: &str, method: &str, operation: &mut Value) {
    let api = path.starts_with("/api/v1/");
    let public = !api || path.starts_with("/api/v1/auth/");
    if public {
        operation["security"] = json!([]);
    }
    let operation_id = operation["operationId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let idempotent = api && method == "post" && !public;
    if let Some(parameters) = operation["parameters"].as_array_mut() {
        for parameter in parameters {
            let name = parameter["name"].as_str().unwrap_or_default();
            if DEPRECATED_PARAMETERS.contains(&(operation_id.as_str(), name)) {
                parameter["deprecated"] = Value::Bool(true);
            }
        }
    }

    // Header parameters: the shared components, once each.
    let mut parameters: Vec<Value> = Vec::new();
    let mut named: Vec<&'static str> = Vec::new();
    for parameter in operation["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let component = (parameter["in"] == "header")
            .then(|| parameter["name"].as_str().and_then(header_parameter))
            .flatten();
        match component {
            Some(name) if !named.contains(&name) => {
                named.push(name);
                parameters.push(reference("parameters", name));
            }
            Some(_) => {}
            None => parameters.push(parameter),
        }
    }
    if idempotent && !named.contains(&"IdempotencyKey") {
        parameters.push(reference("parameters", "IdempotencyKey"));
    }
    if api {
        parameters.push(reference("parameters", "AcceptLanguage"));
    }
    if let Some(object) = operation.as_object_mut() {
        if parameters.is_empty() {
            object.remove("parameters");
        } else {
            object.insert("parameters".to_owned(), Value::Array(parameters));
        }
    }

    // A body declared `oneOf [null, T]` is an optional body of `T`.
    if let Some(body) = operation
        .get_mut("requestBody")
        .and_then(Value::as_object_mut)
    {
        let mut optional = false;
        if let Some(content) = body.get_mut("content").and_then(Value::as_object_mut) {
            for media in content.values_mut() {
                let variants = media["schema"]["oneOf"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if variants.len() == 2
                    && variants.iter().any(|v| v["type"] == "null")
                    && let Some(schema) = variants.into_iter().find(|v| v["type"] != "null")
                {
                    media["schema"] = schema;
                    optional = true;
                }
            }
        }
        body.insert(
            "required".to_owned(),
            Value::Bool(
                !optional
                    && body
                        .get("required")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
            ),
        );
    }

    // Error statuses every operation can answer.
    let has_body = operation.get("requestBody").is_some();
    let responses = &mut operation["responses"];
    if api {
        if !public {
            add_response(responses, "401");
        }
        if has_body {
            for status in ["400", "408", "413", "415", "422"] {
                add_response(responses, status);
            }
        }
        for status in ["500", "503"] {
            add_response(responses, status);
        }
    } else {
        responses["400"] = json!({
            "description": "The request line or its headers could not be read; answered before any route"
        });
    }
    let Some(responses) = responses.as_object_mut() else {
        return;
    };
    for (status, response) in responses.iter_mut() {
        if let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) {
            for (media, body) in content.iter_mut() {
                match media.as_str() {
                    "text/csv" => body["schema"] = json!({"type": "string"}),
                    XLSX => body["schema"] = json!({"type": "string", "format": "binary"}),
                    _ => {}
                }
            }
        }
        if response["description"].as_str().is_none_or(str::is_empty) {
            response["description"] = Value::from(default_description(status));
        }
        let mut headers = Map::new();
        if api || status.starts_with('2') {
            headers.insert(
                "X-Request-Id".to_owned(),
                reference("headers", "X-Request-Id"),
            );
        }
        if status.starts_with('2') {
            if ANSWERS_ETAG.contains(&operation_id.as_str()) {
                headers.insert("ETag".to_owned(), reference("headers", "ETag"));
            }
            if idempotent {
                headers.insert(
                    "Idempotent-Replayed".to_owned(),
                    reference("headers", "Idempotent-Replayed"),
                );
            }
            if operation_id.starts_with("export") {
                headers.insert(
                    "Content-Disposition".to_owned(),
                    reference("headers", "Content-Disposition"),
                );
            }
        }
        match status.as_str() {
            "429" => {
                headers.insert(
                    "Retry-After".to_owned(),
                    reference("headers", "Retry-After"),
                );
            }
            "401" => {
                headers.insert(
                    "WWW-Authenticate".to_owned(),
                    reference("headers", "WWW-Authenticate"),
                );
            }
            _ => {}
        }
        if !headers.is_empty() {
            response["headers"] = Value::Object(headers);
        }
    }
}

fn add_response(responses: &mut Value, status: &str) {
    if let Some(responses) = responses.as_object_mut() {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| problem_response(status));
    }
}

/// The document as served at `/api/v1/openapi.json`.
pub fn document_value() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        finish(&mut doc);
        doc
    })
}

/// The document as pretty JSON, as checked in at `openapi/openapi.json`.
pub fn document() -> String {
    serde_json::to_string_pretty(document_value()).unwrap_or_default()
}
