//! The policy snapshot: everything an assessment needs about one filer, as the
//! server hands it to the phone (`GET /api/v1/me/policy-snapshot`), so the
//! phone can assess drafts offline and reach the server's answer.

use crate::assessment::{AssessmentInput, Settings};
use crate::calendar::Calendar;
use crate::draft::TripDraft;
use crate::lang::Lang;
use crate::org::Org;
use crate::policy::EffectivePolicy;
use crate::profile::Profile;
use crate::special_period::SpecialPeriod;
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The version of the snapshot's shape this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything the phone needs to assess offline.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicySnapshot {
    /// Shape version of this document; readers refuse versions they do not know.
    pub schema_version: u32,
    /// Home jurisdiction and time zone.
    pub settings: Settings,
    /// The filer's profile.
    pub profile: Profile,
    /// The filer's ancestors with their leaders, and every approver the policy may name.
    pub org: Org,
    /// The effective policy, with the unit and version it comes from.
    pub policy: Option<EffectivePolicy>,
    /// Special periods over the filer's node and its ancestors.
    pub special_periods: Vec<SpecialPeriod>,
    /// Calendar years replaced by administrators.
    pub calendar: Calendar,
    /// When the server built it.
    pub generated_at: DateTime<Utc>,
}

/// Why a snapshot could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SnapshotError {
    /// Not JSON, or not the shape of a snapshot.
    #[error("the snapshot is malformed: {reason}")]
    Malformed {
        /// What is wrong (a JSON path and the parser's words; no values).
        reason: String,
    },
    /// A shape version this build does not know.
    #[error("snapshot schema version {found} is not supported (this build reads {supported})")]
    UnsupportedVersion {
        /// The version in the document.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
}

#[derive(Deserialize)]
struct VersionOnly {
    schema_version: u32,
}

/// Describes a serde error without quoting the document: its line and column
/// and the kind of problem, never the offending value.
fn describe(err: &serde_json::Error) -> String {
    let what = match err.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "not the shape of a snapshot",
        serde_json::error::Category::Eof => "cut short",
    };
    format!("{what} at line {} column {}", err.line(), err.column())
}

impl PolicySnapshot {
    /// Reads a snapshot from the server's JSON. The schema version is checked
    /// before anything else, so a newer server's document is refused as such
    /// rather than as malformed.
    pub fn from_json(json: &str) -> Result<Self, SnapshotError> {
        let version: VersionOnly = serde_json::from_str(json).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => SnapshotError::Malformed {
                reason: "schema_version is missing or not a number".to_owned(),
            },
            _ => SnapshotError::Malformed {
                reason: describe(&e),
            },
        })?;
        if version.schema_version != SCHEMA_VERSION {
            return Err(SnapshotError::UnsupportedVersion {
                found: version.schema_version,
                supported: SCHEMA_VERSION,
            });
        }
        serde_json::from_str(json).map_err(|e| SnapshotError::Malformed {
            reason: describe(&e),
        })
    }

    /// The core's input for a draft at a time, in a language.
    pub fn input(
        &self,
        draft: TripDraft,
        now: DateTime<FixedOffset>,
        lang: Lang,
    ) -> AssessmentInput {
        AssessmentInput {
            now,
            settings: self.settings.clone(),
            lang,
            profile: self.profile.clone(),
            org: self.org.clone(),
            policy: self.policy.clone(),
            special_periods: self.special_periods.clone(),
            calendar: self.calendar.clone(),
            draft,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> serde_json::Value {
        json!({
            "schema_version": 1,
            "settings": {"home_code": "110000", "time_zone": "Asia/Shanghai"},
            "profile": {"account_id": "00000000-0000-0000-0000-00000000a001",
                        "unit_id": "00000000-0000-0000-0000-000000000002",
                        "rank": "section", "position": "staff", "party_member": true,
                        "public_official": true, "key_post": false},
            "org": {"units": [], "accounts": [], "role_grants": []},
            "policy": null,
            "special_periods": [],
            "calendar": {"years": []},
            "generated_at": "2026-04-20T08:00:00Z"
        })
    }

    #[test]
    fn reads_a_minimal_snapshot() {
        let snapshot = PolicySnapshot::from_json(&minimal().to_string());
        assert!(snapshot.is_ok(), "{snapshot:?}");
    }

    #[test]
    fn refuses_an_unknown_version_before_the_shape() {
        let err = PolicySnapshot::from_json(r#"{"schema_version": 2, "anything": true}"#);
        assert_eq!(
            err,
            Err(SnapshotError::UnsupportedVersion {
                found: 2,
                supported: 1
            })
        );
    }

    #[test]
    fn malformed_documents_say_where_but_not_what() {
        for (doc, expect) in [
            ("not json", "not valid JSON"),
            ("{\"schema_version\": \"1\"}", "schema_version"),
            ("{}", "schema_version"),
            (
                "{\"schema_version\": 1, \"settings\": 7}",
                "shape of a snapshot",
            ),
            ("{\"schema_version\": 1", "cut short"),
        ] {
            match PolicySnapshot::from_json(doc) {
                Err(SnapshotError::Malformed { reason }) => {
                    assert!(reason.contains(expect), "{doc}: {reason}")
                }
                other => panic!("{doc}: {other:?}"),
            }
        }
        let mut secret = minimal();
        secret["profile"]["rank"] = json!("Zhang San 13800138000");
        match PolicySnapshot::from_json(&secret.to_string()) {
            Err(SnapshotError::Malformed { reason }) => {
                assert!(
                    !reason.contains("Zhang") && !reason.contains("1380"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
