//! The policies the demo puts in place.

use serde_json::{Value, json};
use uuid::Uuid;

const ABROAD: [&str; 3] = ["abroad_private", "hk_macau_private", "taiwan_private"];

/// Complete: staff abroad ask their head and the unit principal; leaders
/// abroad ask the district's deputy in charge and its principal, filed
/// with the district; everything else is reported a working day ahead.
pub fn complete(district: Uuid) -> Value {
    json!([
        {"id": "staff_abroad",
         "applies_to": {"positions": ["staff", "department_head"], "key_post": null},
         "trip_kinds": ABROAD, "periods": ["normal", "holiday", "special"],
         "requirement": "approval",
         "approvers": [{"kind": "department_head"}, {"kind": "unit_principal"}],
         "form": "online_and_written", "notice": {"days": 5, "working_days": true},
         "return_report": {"required": true, "within_hours": 24},
         "max_days": 30, "documents_required": true},
        {"id": "leaders_abroad",
         "applies_to": {"positions": ["deputy", "principal"]},
         "trip_kinds": ABROAD,
         "requirement": "approval",
         "approvers": [{"kind": "superior_deputy_in_charge"}, {"kind": "superior_principal"}],
         "filed_with": [{"kind": "unit", "unit_id": district}],
         "form": "online_and_written", "notice": {"days": 10, "working_days": true},
         "return_report": {"required": true, "within_hours": 24},
         "max_days": 21, "documents_required": true},
        {"id": "leave_jurisdiction",
         "requirement": "report", "form": "online",
         "notice": {"days": 1, "working_days": true},
         "return_report": {"required": true, "within_hours": 24}}
    ])
}

/// Incomplete: only leaving the jurisdiction is ruled, abroad is not.
pub fn without_abroad() -> Value {
    json!([
        {"id": "leave_jurisdiction", "trip_kinds": ["leave_jurisdiction"],
         "requirement": "report", "form": "online",
         "notice": {"days": 1, "working_days": true}}
    ])
}

/// Incomplete: abroad trips need approval, but nobody is named to give it.
pub fn approval_without_approvers() -> Value {
    json!([
        {"id": "abroad", "trip_kinds": ABROAD, "requirement": "approval",
         "form": "online_and_written", "notice": {"days": 5, "working_days": true},
         "documents_required": true},
        {"id": "leave_jurisdiction", "trip_kinds": ["leave_jurisdiction"],
         "requirement": "report", "form": "online",
         "notice": {"days": 1, "working_days": true}}
    ])
}

/// The district's: "report when you leave Beijing", nothing on abroad.
pub fn district() -> Value {
    json!([
        {"id": "leave_jurisdiction", "trip_kinds": ["leave_jurisdiction"],
         "requirement": "report", "form": "online",
         "notice": {"days": 3, "working_days": true},
         "return_report": {"required": true, "within_hours": 24}}
    ])
}

/// Too simple: "report if you leave" — no form, no notice.
pub fn simplistic() -> Value {
    json!([{"id": "report", "requirement": "report"}])
}

/// Nothing at all.
pub fn empty() -> Value {
    json!([])
}
