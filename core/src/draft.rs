//! The trip draft a cadre fills in on the phone.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What kind of trip this is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TripKind {
    /// Leaving the home jurisdiction within the mainland.
    LeaveJurisdiction,
    /// A private trip abroad.
    AbroadPrivate,
    /// A private trip to Hong Kong or Macau.
    HkMacauPrivate,
    /// A private trip to Taiwan.
    TaiwanPrivate,
}

impl TripKind {
    /// Every trip kind.
    pub const ALL: [TripKind; 4] = [
        TripKind::LeaveJurisdiction,
        TripKind::AbroadPrivate,
        TripKind::HkMacauPrivate,
        TripKind::TaiwanPrivate,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TripKind::LeaveJurisdiction => "leave_jurisdiction",
            TripKind::AbroadPrivate => "abroad_private",
            TripKind::HkMacauPrivate => "hk_macau_private",
            TripKind::TaiwanPrivate => "taiwan_private",
        }
    }
}

/// Why the cadre travels.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Visiting relatives.
    VisitRelatives,
    /// Tourism.
    Tourism,
    /// Medical treatment.
    Medical,
    /// Personal affairs.
    PersonalAffairs,
    /// Anything else (explained in the reason).
    Other,
}

/// A destination by code: GB/T 2260 (mainland), `HK`, `MO`, `TW`, or ISO 3166-1 alpha-2.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// The destination code.
    pub code: String,
}

/// A trip as the cadre drafts it. Every field may be missing while drafting; the
/// assessment reports what is missing with `required` issues.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TripDraft {
    /// Kind of trip.
    #[serde(default)]
    pub kind: Option<TripKind>,
    /// Purpose.
    #[serde(default)]
    pub purpose: Option<Purpose>,
    /// Free text, 1..=500 characters.
    #[serde(default)]
    pub reason: Option<String>,
    /// Where to, at least one.
    #[serde(default)]
    pub destinations: Vec<Destination>,
    /// Planned departure, a local date.
    #[serde(default)]
    pub depart_on: Option<NaiveDate>,
    /// Planned return, a local date.
    #[serde(default)]
    pub return_on: Option<NaiveDate>,
    /// Phone number while away.
    #[serde(default)]
    pub contact_phone: Option<String>,
    /// Who stands in while the filer is away.
    #[serde(default)]
    pub substitute_id: Option<Uuid>,
    /// Who travels along, free text.
    #[serde(default)]
    pub companions: Option<String>,
    /// Why the report comes after departure.
    #[serde(default)]
    pub late_reason: Option<String>,
}
