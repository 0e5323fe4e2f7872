//! Special periods: windows over a unit subtree that tighten the rules.

use crate::draft::TripKind;
use crate::policy::{ApproverRule, Requirement};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a special period does to a restricted destination.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestrictionAction {
    /// Trips there are refused.
    Blocked,
    /// Trips there need approval.
    Approval,
}

/// A destination a special period restricts; matches the code and anything inside it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DestinationRestriction {
    /// Destination code (a province matches its prefectures).
    pub code: String,
    /// What happens to trips there.
    pub action: RestrictionAction,
}

/// A named window over a unit subtree that raises requirements.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecialPeriod {
    /// Id, cited by assessments.
    pub id: Uuid,
    /// Name, for display.
    #[serde(default)]
    pub name: String,
    /// Root of the subtree it covers.
    pub unit_id: Uuid,
    /// First day.
    pub starts_on: NaiveDate,
    /// Last day, inclusive.
    pub ends_on: NaiveDate,
    /// Trip kinds it applies to.
    #[serde(default)]
    pub trip_kinds: Vec<TripKind>,
    /// Requirement floor.
    #[serde(default = "no_requirement")]
    pub min_requirement: Requirement,
    /// Approvers when it raises a trip to approval and the rule names none.
    #[serde(default)]
    pub approvers: Vec<ApproverRule>,
    /// Restricted destinations.
    #[serde(default)]
    pub restricted_destinations: Vec<DestinationRestriction>,
}

fn no_requirement() -> Requirement {
    Requirement::None
}

impl SpecialPeriod {
    /// Whether the trip's days `depart_on..=return_on` overlap this period.
    pub fn overlaps(&self, depart_on: NaiveDate, return_on: NaiveDate) -> bool {
        depart_on <= self.ends_on && return_on >= self.starts_on
    }
}
