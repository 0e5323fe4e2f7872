//! The access log: every bulk read of whereabouts (ledger pages and exports,
//! rosters, discrepancy lists, campaign reports, evidence imports, unmasked
//! document numbers) and every sign-in, failed sign-in and refused
//! authorization is appended with who, when, what (with the filters), how
//! many rows, the client's address and the request id. Writing an entry is
//! one statement, on the connection the request already holds.

use crate::error::ApiError;
use crate::extract::{Principal, client_address};
use crate::policy::{self, Action};
use crate::store::access_log::{self as store, NewEntry};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use diesel::PgConnection;
use futures_util::future::{Ready, ready};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use uuid::Uuid;

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A page of the ledger.
    LedgerPage,
    /// A ledger export (CSV or XLSX).
    LedgerExport,
    /// A roster of who is away.
    Roster,
    /// A list of discrepancies.
    Discrepancies,
    /// A campaign's report.
    CampaignReport,
    /// An evidence import.
    EvidenceImport,
    /// A travel document's number read unmasked.
    DocumentNumber,
    /// A sign-in.
    Login,
    /// A refused sign-in.
    LoginFailed,
    /// A wrong second factor's code (at sign-in, enrolment or removal).
    MfaFailed,
    /// A refused authorization (a 403 answer).
    Refused,
}

impl Access {
    /// Every kind, as the log's `action` filter accepts them.
    pub const ALL: [Access; 11] = [
        Access::LedgerPage,
        Access::LedgerExport,
        Access::Roster,
        Access::Discrepancies,
        Access::CampaignReport,
        Access::EvidenceImport,
        Access::DocumentNumber,
        Access::Login,
        Access::LoginFailed,
        Access::MfaFailed,
        Access::Refused,
    ];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::LedgerPage => "ledger.read",
            Access::LedgerExport => "ledger.export",
            Access::Roster => "roster.read",
            Access::Discrepancies => "discrepancies.read",
            Access::CampaignReport => "inspection.report",
            Access::EvidenceImport => "evidence.import",
            Access::DocumentNumber => "document.number",
            Access::Login => "auth.login",
            Access::LoginFailed => "auth.login_failed",
            Access::MfaFailed => "auth.mfa_failed",
            Access::Refused => "authorization.refused",
        }
    }
}

/// The request id the request middleware gives every request.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// What an entry records of the request itself: the client's address, the
/// request id and the query's filters.
#[derive(Debug, Clone, Default)]
pub struct Requester {
    /// The client's address.
    pub address: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
    /// The query string's parameters.
    pub filters: BTreeMap<String, String>,
}

impl Requester {
    /// The requester of a request.
    pub fn of(req: &HttpRequest) -> Self {
        Self {
            address: req.peer_addr().map(|_| client_address(req)),
            request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
            filters: web::Query::<BTreeMap<String, String>>::from_query(req.query_string())
                .map(web::Query::into_inner)
                .unwrap_or_default(),
        }
    }
}

impl FromRequest for Requester {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self::of(req)))
    }
}

/// An entry, as a route makes it.
#[derive(Debug, Clone)]
pub struct Entry {
    action: Access,
    actor_id: Option<Uuid>,
    target: Option<String>,
    filters: Option<Value>,
    rows: Option<i64>,
    units: Vec<Uuid>,
}

impl Entry {
    /// `action` by `actor`.
    pub fn new(action: Access, actor: Option<Uuid>) -> Self {
        Self {
            action,
            actor_id: actor,
            target: None,
            filters: None,
            rows: None,
            units: Vec::new(),
        }
    }

    /// A read by `who` under `action` of the node `unit`, or of the whole
    /// scope `who` holds for `action` when none is named.
    pub fn read(access: Access, who: &Principal, action: Action, unit: Option<Uuid>) -> Self {
        let units = match unit {
            Some(unit) => vec![unit],
            None => policy::scope(who, action).roots().unwrap_or_default(),
        };
        Self {
            target: unit.map(|u| u.to_string()),
            units,
            ..Self::new(access, Some(who.account_id))
        }
    }

    /// Recorded as `action` instead.
    pub fn action(mut self, action: Access) -> Self {
        self.action = action;
        self
    }

    /// What it was about.
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Its filters, instead of the query string's.
    pub fn filters(mut self, filters: Value) -> Self {
        self.filters = Some(filters);
        self
    }

    /// How many rows it answered.
    pub fn rows(mut self, rows: usize) -> Self {
        self.rows = Some(i64::try_from(rows).unwrap_or(i64::MAX));
        self
    }

    /// The subtrees it was about.
    pub fn units(mut self, units: Vec<Uuid>) -> Self {
        self.units = units;
        self
    }
}

/// Appends an entry: one statement on `conn`.
pub fn record(
    conn: &mut PgConnection,
    requester: &Requester,
    entry: Entry,
) -> Result<(), ApiError> {
    store::append(conn, &new_entry(requester, entry))?;
    Ok(())
}

/// Appends an entry about its actor's own node: one statement on `conn`.
pub fn record_about_actor(
    conn: &mut PgConnection,
    requester: &Requester,
    entry: Entry,
) -> Result<(), ApiError> {
    store::append_about_actor(conn, &new_entry(requester, entry))?;
    Ok(())
}

fn new_entry(requester: &Requester, entry: Entry) -> NewEntry {
    NewEntry {
        actor_id: entry.actor_id,
        action: entry.action.as_str(),
        target: entry.target,
        filters: entry.filters.unwrap_or_else(|| json!(requester.filters)),
        rows: entry.rows,
        address: requester.address.clone(),
        request_id: requester.request_id.clone(),
        units: entry.units,
    }
}
