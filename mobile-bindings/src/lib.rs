//! Whereabouts' core for the Android and iOS apps, through uniffi: read the
//! policy snapshot the server hands out, assess and validate a trip draft
//! offline, list what the filer may do next, and look up destinations.
//!
//! Core stays free of uniffi: its records and enums are mirrored here with
//! `#[uniffi::remote(...)]` (see [`mirror`]), so a mirror that drifts from core
//! fails to compile, and its objects are wrapped in newtypes. Validation
//! problems come back as data inside the assessment; the only exceptions are
//! [`MobileError`], for a bad snapshot or badly formatted input.

use chrono::{DateTime, FixedOffset, NaiveDate};
use std::sync::Arc;
use uuid::Uuid;
use whereabouts_core::lifecycle::{self, FilingState};
use whereabouts_core::snapshot::{self, SnapshotError};
use whereabouts_core::{
    Action, Actor, Assessment, FilingStatus, Issue, Lang, TripDraft, assess, calendar, regions,
};

mod mirror;

uniffi::setup_scaffolding!();

/// A moment with its UTC offset, as RFC 3339 text (`2026-04-27T09:00:00+08:00`).
pub type Timestamp = DateTime<FixedOffset>;
/// Parameters of a validation issue, as JSON text of an object.
pub type JsonObject = serde_json::Value;

uniffi::custom_type!(NaiveDate, String, {
    remote,
    lower: |d| d.format("%Y-%m-%d").to_string(),
    try_lift: |s| NaiveDate::parse_from_str(&s, "%Y-%m-%d")
        .map_err(|_| MobileError::invalid_input("date", "expected YYYY-MM-DD").into()),
});

uniffi::custom_type!(Uuid, String, {
    remote,
    lower: |u| u.to_string(),
    try_lift: |s| Uuid::parse_str(&s)
        .map_err(|_| MobileError::invalid_input("id", "expected a UUID").into()),
});

uniffi::custom_type!(Timestamp, String, {
    remote,
    lower: |t| t.to_rfc3339(),
    try_lift: |s| DateTime::parse_from_rfc3339(&s)
        .map_err(|_| MobileError::invalid_input("timestamp", "expected RFC 3339 with an offset").into()),
});

uniffi::custom_type!(JsonObject, String, {
    remote,
    lower: |v| v.to_string(),
    try_lift: |s| serde_json::from_str(&s)
        .map_err(|_| MobileError::invalid_input("params", "expected JSON").into()),
});

/// Misuse of the bindings: a snapshot that cannot be read, or input in the
/// wrong format. Messages never carry personal data or the input's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum MobileError {
    /// The snapshot is not JSON or not the shape of a snapshot.
    #[error("the policy snapshot cannot be read: {reason}")]
    InvalidSnapshot {
        /// Where and what kind of problem (never the values).
        reason: String,
    },
    /// The snapshot comes from a newer (or older) server than this build reads.
    #[error(
        "policy snapshot schema version {found} is not supported; this build reads {supported}"
    )]
    UnsupportedSnapshotVersion {
        /// The document's version.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// An argument is not in the expected format.
    #[error("{field} is not in the expected format: {reason}")]
    InvalidInput {
        /// Which argument or field.
        field: String,
        /// What was expected.
        reason: String,
    },
}

impl MobileError {
    fn invalid_input(field: &str, reason: &str) -> Self {
        MobileError::InvalidInput {
            field: field.to_owned(),
            reason: reason.to_owned(),
        }
    }
}

impl From<SnapshotError> for MobileError {
    fn from(err: SnapshotError) -> Self {
        match err {
            SnapshotError::Malformed { reason } => MobileError::InvalidSnapshot { reason },
            SnapshotError::UnsupportedVersion { found, supported } => {
                MobileError::UnsupportedSnapshotVersion { found, supported }
            }
        }
    }
}

/// One filer's policy snapshot, read from the JSON of
/// `GET /api/v1/me/policy-snapshot`. Immutable; share it freely.
#[derive(Debug, uniffi::Object)]
pub struct PolicySnapshot(snapshot::PolicySnapshot);

#[uniffi::export]
impl PolicySnapshot {
    /// Reads the server's JSON. Throws `InvalidSnapshot` for a malformed
    /// document and `UnsupportedSnapshotVersion` for an unknown schema version.
    #[uniffi::constructor]
    pub fn from_json(json: String) -> Result<Arc<Self>, MobileError> {
        Ok(Arc::new(Self(snapshot::PolicySnapshot::from_json(&json)?)))
    }

    /// The snapshot's shape version.
    pub fn schema_version(&self) -> u32 {
        self.0.schema_version
    }

    /// The filer the snapshot is for.
    pub fn account_id(&self) -> Uuid {
        self.0.profile.account_id
    }

    /// The unit whose policy is in force for the filer, if any.
    pub fn policy_unit_id(&self) -> Option<Uuid> {
        self.0.policy.as_ref().map(|p| p.source_unit_id)
    }

    /// The version of that policy, if any.
    pub fn policy_version(&self) -> Option<i64> {
        self.0.policy.as_ref().map(|p| p.version)
    }

    /// When the server built the snapshot.
    pub fn generated_at(&self) -> Timestamp {
        self.0.generated_at.fixed_offset()
    }

    /// What the trip requires of this filer if submitted at `now`: the
    /// requirement, approvers, deadlines, documents, and every validation
    /// error and warning (as data, in `lang`). The same answer as
    /// `POST /api/v1/assessments` on the same data.
    pub fn assess(
        &self,
        draft: TripDraft,
        now: Timestamp,
        lang: Lang,
    ) -> Result<Assessment, MobileError> {
        Ok(assess(&self.0.input(draft, now, lang)))
    }

    /// The validation errors of the draft at `now` (empty when it can be
    /// submitted).
    pub fn validate(
        &self,
        draft: TripDraft,
        now: Timestamp,
        lang: Lang,
    ) -> Result<Vec<Issue>, MobileError> {
        Ok(self.assess(draft, now, lang)?.errors)
    }
}

/// Reads a trip draft from the JSON the API uses (`TripDraft` in API.md);
/// for drafts an app kept offline as JSON.
#[uniffi::export]
pub fn draft_from_json(json: String) -> Result<TripDraft, MobileError> {
    serde_json::from_str(&json).map_err(|e| MobileError::InvalidInput {
        field: "draft".to_owned(),
        reason: format!(
            "not a trip draft at line {} column {}",
            e.line(),
            e.column()
        ),
    })
}

/// The API's JSON of a trip draft, ready for `POST /api/v1/filings`.
#[uniffi::export]
pub fn draft_to_json(draft: TripDraft) -> String {
    serde_json::to_string(&draft).unwrap_or_default()
}

/// The API's JSON of an assessment (as `POST /api/v1/assessments` answers).
#[uniffi::export]
pub fn assessment_to_json(assessment: Assessment) -> String {
    serde_json::to_string(&assessment).unwrap_or_default()
}

/// What a filing is now, as the filer's app sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct FilingView {
    /// Its status.
    pub status: FilingStatus,
    /// How many approval steps it has (0 for report-only).
    pub steps: u32,
    /// Whether an extension waits for a decision.
    pub extension_pending: bool,
}

/// The actions the filer may take on a filing now: the buttons to show
/// (`submit`, `withdraw`, `cancel`, `depart`, `return`, `extend`).
#[uniffi::export]
pub fn filer_actions(filing: FilingView) -> Vec<Action> {
    let state = FilingState {
        status: filing.status,
        current_step: (filing.status == FilingStatus::Pending || filing.extension_pending)
            .then_some(1),
        steps: filing.steps,
        extension_pending: filing.extension_pending,
    };
    lifecycle::allowed_actions(state, Actor::Filer)
}

/// A destination for the picker, with both names.
#[uniffi::export]
pub fn lookup_destination(code: String) -> Option<regions::Region> {
    regions::lookup(code.trim()).cloned()
}

/// Destinations whose code starts with `query` or whose Chinese or English
/// name contains it, best first, at most `limit`.
#[uniffi::export]
pub fn search_destinations(query: String, limit: u32) -> Vec<regions::Region> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    regions::search(&query, limit)
        .into_iter()
        .cloned()
        .collect()
}

/// The versions of what this build carries.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReferenceData {
    /// The library's version.
    pub library_version: String,
    /// The snapshot schema version this build reads.
    pub snapshot_schema_version: u32,
    /// Source of the administrative divisions table.
    pub divisions_source: String,
    /// Its version.
    pub divisions_version: String,
    /// Source of the countries table.
    pub countries_source: String,
    /// Its version.
    pub countries_version: String,
    /// Source of the holiday table.
    pub holidays_source: String,
    /// Its version.
    pub holidays_version: String,
    /// The years the holiday table covers.
    pub holiday_years: Vec<i32>,
}

/// The reference data's versions (destinations, holidays) and the snapshot
/// schema this build reads.
#[uniffi::export]
pub fn reference_data() -> ReferenceData {
    let [
        (divisions_source, divisions_version),
        (countries_source, countries_version),
    ] = regions::sources();
    let (holidays_source, holidays_version) = calendar::shipped_source();
    ReferenceData {
        library_version: env!("CARGO_PKG_VERSION").to_owned(),
        snapshot_schema_version: snapshot::SCHEMA_VERSION,
        divisions_source: divisions_source.to_owned(),
        divisions_version: divisions_version.to_owned(),
        countries_source: countries_source.to_owned(),
        countries_version: countries_version.to_owned(),
        holidays_source: holidays_source.to_owned(),
        holidays_version: holidays_version.to_owned(),
        holiday_years: calendar::shipped_years().to_vec(),
    }
}
