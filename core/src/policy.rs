//! A unit's reporting rules: who must report or ask approval, for which trips,
//! to whom, how early, and what follows.

use crate::draft::TripKind;
use crate::org::Role;
use crate::profile::{Position, Profile, Rank};
use crate::validation::{Issue, IssueCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// The longest notice period a rule may ask for, in days.
pub const MAX_NOTICE_DAYS: u32 = 60;
/// The longest return-report window, in hours.
pub const MAX_RETURN_REPORT_HOURS: u32 = 720;
/// The longest trip length a rule may allow, in days.
pub const MAX_TRIP_DAYS: u32 = 365;

/// Which kind of period a trip falls in.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// No holiday and no special period.
    Normal,
    /// A day of the trip is a public holiday.
    Holiday,
    /// The trip overlaps a special period.
    Special,
}

impl Period {
    /// Every period.
    pub const ALL: [Period; 3] = [Period::Normal, Period::Holiday, Period::Special];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Normal => "normal",
            Period::Holiday => "holiday",
            Period::Special => "special",
        }
    }
}

/// What a trip requires, weakest first: special periods only ever raise it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    /// Nothing to file.
    None,
    /// File a report; it is recorded.
    Report,
    /// File and wait for approval.
    Approval,
}

impl Requirement {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Requirement::None => "none",
            Requirement::Report => "report",
            Requirement::Approval => "approval",
        }
    }
}

/// Who approves a step, resolved against the unit tree.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ApproverRule {
    /// The head of the filer's own node.
    #[cfg_attr(feature = "openapi", schema(title = "DepartmentHeadApprover"))]
    DepartmentHead,
    /// The principal of the filer's unit.
    #[cfg_attr(feature = "openapi", schema(title = "UnitPrincipalApprover"))]
    UnitPrincipal,
    /// The deputy of the filer's unit in charge of the filer's node.
    #[cfg_attr(feature = "openapi", schema(title = "DeputyInChargeApprover"))]
    DeputyInCharge,
    /// The principal of the unit above the filer's unit.
    #[cfg_attr(feature = "openapi", schema(title = "SuperiorPrincipalApprover"))]
    SuperiorPrincipal,
    /// The deputy of the unit above in charge of the filer's unit.
    #[cfg_attr(feature = "openapi", schema(title = "SuperiorDeputyInChargeApprover"))]
    SuperiorDeputyInCharge,
    /// A named account.
    #[cfg_attr(feature = "openapi", schema(title = "AccountApprover"))]
    Account {
        /// The approver.
        account_id: Uuid,
    },
    /// Any holder of a role grant on a node.
    #[cfg_attr(feature = "openapi", schema(title = "RoleApprover"))]
    Role {
        /// The role.
        role: Role,
        /// The node the grant is on.
        unit_id: Uuid,
    },
}

impl ApproverRule {
    /// The `kind` wire name.
    pub fn kind(&self) -> &'static str {
        match self {
            ApproverRule::DepartmentHead => "department_head",
            ApproverRule::UnitPrincipal => "unit_principal",
            ApproverRule::DeputyInCharge => "deputy_in_charge",
            ApproverRule::SuperiorPrincipal => "superior_principal",
            ApproverRule::SuperiorDeputyInCharge => "superior_deputy_in_charge",
            ApproverRule::Account { .. } => "account",
            ApproverRule::Role { .. } => "role",
        }
    }
}

/// Who an approved or recorded filing is filed with (informed, not asked).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FiledWith {
    /// A unit (its office).
    #[cfg_attr(feature = "openapi", schema(title = "FiledWithUnit"))]
    Unit {
        /// The unit.
        unit_id: Uuid,
    },
    /// A named account.
    #[cfg_attr(feature = "openapi", schema(title = "FiledWithAccount"))]
    Account {
        /// The account.
        account_id: Uuid,
    },
}

/// The form a filing takes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// Filed in the system only.
    Online,
    /// Filed in the system and on paper.
    OnlineAndWritten,
}

/// How long before departure a filing must be in.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Notice {
    /// Number of days.
    pub days: u32,
    /// Count only working days (by the calendar).
    #[serde(default)]
    pub working_days: bool,
}

/// Whether a return report is due, and how soon after the trip.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReturnReport {
    /// A return report is due.
    pub required: bool,
    /// Hours after the end of `return_on`.
    #[serde(default)]
    pub within_hours: u32,
}

/// Which members a rule applies to. Empty or missing fields match everyone.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Selector {
    /// Ranks; empty or null matches every rank.
    #[serde(default)]
    pub ranks: Option<Vec<Rank>>,
    /// Positions; empty or null matches every position.
    #[serde(default)]
    pub positions: Option<Vec<Position>>,
    /// Key or classified post; null matches both.
    #[serde(default)]
    pub key_post: Option<bool>,
    /// Party membership; null matches both.
    #[serde(default)]
    pub party_member: Option<bool>,
    /// Public official; null matches both.
    #[serde(default)]
    pub public_official: Option<bool>,
}

fn listed<T: PartialEq>(list: &Option<Vec<T>>, value: &T) -> bool {
    match list {
        None => true,
        Some(items) => items.is_empty() || items.contains(value),
    }
}

fn flag(selector: Option<bool>, value: bool) -> bool {
    selector.is_none_or(|wanted| wanted == value)
}

impl Selector {
    /// Whether the selector matches this profile.
    pub fn matches(&self, profile: &Profile) -> bool {
        listed(&self.ranks, &profile.rank)
            && listed(&self.positions, &profile.position)
            && flag(self.key_post, profile.key_post)
            && flag(self.party_member, profile.party_member)
            && flag(self.public_official, profile.public_official)
    }
}

/// One rule of a policy.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Stable id, unique within the policy; assessments cite it.
    pub id: String,
    /// Which members.
    #[serde(default)]
    pub applies_to: Selector,
    /// Which trip kinds; empty matches every kind.
    #[serde(default)]
    pub trip_kinds: Vec<TripKind>,
    /// Which periods; empty matches every period.
    #[serde(default)]
    pub periods: Vec<Period>,
    /// What is required; a rule without it is incomplete (assessed as `report`).
    #[serde(default)]
    pub requirement: Option<Requirement>,
    /// Ordered approver chain for `approval`.
    #[serde(default)]
    pub approvers: Vec<ApproverRule>,
    /// Who is informed.
    #[serde(default)]
    pub filed_with: Vec<FiledWith>,
    /// Form of the filing.
    #[serde(default)]
    pub form: Option<Form>,
    /// Notice period.
    #[serde(default)]
    pub notice: Option<Notice>,
    /// Return report.
    #[serde(default)]
    pub return_report: Option<ReturnReport>,
    /// Longest allowed trip in days.
    #[serde(default)]
    pub max_days: Option<u32>,
    /// Travel documents are needed (abroad, Hong Kong/Macau, Taiwan).
    #[serde(default)]
    pub documents_required: bool,
}

impl Rule {
    /// Whether this rule is the one for this profile, trip kind and period.
    pub fn matches(&self, profile: &Profile, kind: TripKind, period: Period) -> bool {
        self.applies_to.matches(profile)
            && (self.trip_kinds.is_empty() || self.trip_kinds.contains(&kind))
            && (self.periods.is_empty() || self.periods.contains(&period))
    }
}

/// A unit's policy: rules tried in order, the first match wins.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// The rules, in order.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

impl Policy {
    /// The first rule matching this profile, trip kind and period.
    pub fn rule_for(&self, profile: &Profile, kind: TripKind, period: Period) -> Option<&Rule> {
        self.rules.iter().find(|r| r.matches(profile, kind, period))
    }

    /// Checks that a policy is well formed (not whether it is complete): rule ids
    /// present and unique, numbers in range. Field paths look like `rules[2].id`.
    pub fn check(&self) -> Vec<Issue> {
        let mut issues = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let at = |field: &str| format!("rules[{i}].{field}");
            let id = rule.id.trim();
            if id.is_empty() {
                issues.push(Issue::new(IssueCode::Required, Some(at("id")), json!({})));
            } else if id.chars().count() > 64 {
                issues.push(Issue::new(
                    IssueCode::TooLong,
                    Some(at("id")),
                    json!({"max": 64}),
                ));
            } else if self.rules[..i].iter().any(|r| r.id.trim() == id) {
                issues.push(Issue::new(
                    IssueCode::DuplicateRuleId,
                    Some(at("id")),
                    json!({"id": id}),
                ));
            }
            if let Some(notice) = rule.notice
                && notice.days > MAX_NOTICE_DAYS
            {
                issues.push(Issue::new(
                    IssueCode::OutOfRange,
                    Some(at("notice.days")),
                    json!({"min": 0, "max": MAX_NOTICE_DAYS}),
                ));
            }
            if let Some(report) = rule.return_report
                && report.within_hours > MAX_RETURN_REPORT_HOURS
            {
                issues.push(Issue::new(
                    IssueCode::OutOfRange,
                    Some(at("return_report.within_hours")),
                    json!({"min": 0, "max": MAX_RETURN_REPORT_HOURS}),
                ));
            }
            if let Some(days) = rule.max_days
                && !(1..=MAX_TRIP_DAYS).contains(&days)
            {
                issues.push(Issue::new(
                    IssueCode::OutOfRange,
                    Some(at("max_days")),
                    json!({"min": 1, "max": MAX_TRIP_DAYS}),
                ));
            }
        }
        issues
    }
}

/// The policy in force for a node: its own, or its nearest ancestor's.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectivePolicy {
    /// The policy.
    pub policy: Policy,
    /// The unit whose policy this is.
    pub source_unit_id: Uuid,
    /// The policy's version at that unit.
    pub version: i64,
}
