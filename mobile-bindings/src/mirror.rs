//! Core's records and enums, mirrored for uniffi. Each mirror lists every
//! field and variant of the core type; the generated code builds and matches
//! the real type, so a mirror that drifts from core fails to compile.
//!
//! Two variants are renamed for the apps: Kotlin cannot tell a variant named
//! like a type (`ApproverRule.Role` holding a `Role`) from the type, nor a
//! variant named `Unit` from its own `Unit`.

use crate::{JsonObject, Timestamp};
use chrono::NaiveDate;
use uuid::Uuid;
use whereabouts_core::assessment::{Candidate, DocumentKind};
use whereabouts_core::regions::{DestinationKind, Region};
use whereabouts_core::{
    Action, ApproverRule, Assessment, Destination, FiledWith, FilingStatus, Form, Issue, IssueCode,
    Lang, Period, Purpose, Requirement, ResolvedApprover, Role, TripDraft, TripKind,
};

/// A trip draft, as the cadre fills it in; every field may still be missing.
#[uniffi::remote(Record)]
pub struct TripDraft {
    pub kind: Option<TripKind>,
    pub purpose: Option<Purpose>,
    pub reason: Option<String>,
    pub destinations: Vec<Destination>,
    pub depart_on: Option<NaiveDate>,
    pub return_on: Option<NaiveDate>,
    pub contact_phone: Option<String>,
    pub substitute_id: Option<Uuid>,
    pub companions: Option<String>,
    pub late_reason: Option<String>,
}

#[uniffi::remote(Record)]
pub struct Destination {
    pub code: String,
}

#[uniffi::remote(Enum)]
pub enum TripKind {
    LeaveJurisdiction,
    AbroadPrivate,
    HkMacauPrivate,
    TaiwanPrivate,
}

#[uniffi::remote(Enum)]
pub enum Purpose {
    VisitRelatives,
    Tourism,
    Medical,
    PersonalAffairs,
    Other,
}

#[uniffi::remote(Enum)]
pub enum Lang {
    ZhCn,
    En,
}

#[uniffi::remote(Record)]
pub struct Assessment {
    pub valid: bool,
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
    pub period: Option<Period>,
    pub requirement: Option<Requirement>,
    pub rule_id: Option<String>,
    pub policy_unit_id: Option<Uuid>,
    pub policy_version: Option<i64>,
    pub special_period_ids: Vec<Uuid>,
    pub approvers: Vec<ResolvedApprover>,
    pub filed_with: Vec<FiledWith>,
    pub form: Option<Form>,
    pub submit_by: Option<Timestamp>,
    pub late: bool,
    pub return_report_due: Option<Timestamp>,
    pub documents_required: Vec<DocumentKind>,
    pub max_days: Option<u32>,
}

#[uniffi::remote(Record)]
pub struct Issue {
    pub code: IssueCode,
    pub field: Option<String>,
    pub params: JsonObject,
    pub message: String,
}

#[uniffi::remote(Enum)]
pub enum IssueCode {
    Required,
    TooLong,
    ReturnBeforeDeparture,
    TripTooLong,
    DepartureTooFarAhead,
    RetroactiveTooOld,
    DestinationUnknown,
    DestinationInsideJurisdiction,
    DestinationKindMismatch,
    PhoneInvalid,
    SubstituteRequired,
    SubstituteIsFiler,
    LateReasonRequired,
    DestinationBlocked,
    NoApprover,
    ApproverVacant,
    NoRule,
    RuleIncomplete,
    DuplicateRuleId,
    OutOfRange,
    Invalid,
    UnknownPerson,
    DateOutOfRange,
    DepartureBeforePlanned,
}

#[uniffi::remote(Enum)]
pub enum Period {
    Normal,
    Holiday,
    Special,
}

#[uniffi::remote(Enum)]
pub enum Requirement {
    None,
    Report,
    Approval,
}

#[uniffi::remote(Enum)]
pub enum Form {
    Online,
    OnlineAndWritten,
}

#[uniffi::remote(Enum)]
pub enum DocumentKind {
    Passport,
    HkMacauPass,
    TaiwanPass,
}

#[uniffi::remote(Record)]
pub struct ResolvedApprover {
    pub step: u32,
    pub rule: ApproverRule,
    pub account_id: Uuid,
    pub display_name: String,
    pub candidates: Vec<Candidate>,
}

#[uniffi::remote(Record)]
pub struct Candidate {
    pub account_id: Uuid,
    pub display_name: String,
}

#[uniffi::remote(Enum)]
pub enum ApproverRule {
    DepartmentHead,
    UnitPrincipal,
    DeputyInCharge,
    SuperiorPrincipal,
    SuperiorDeputyInCharge,
    Account {
        account_id: Uuid,
    },
    #[uniffi(name = "RoleHolder")]
    Role {
        role: Role,
        unit_id: Uuid,
    },
}

#[uniffi::remote(Enum)]
pub enum Role {
    UnitAdmin,
    Inspector,
    SystemAdmin,
}

#[uniffi::remote(Enum)]
pub enum FiledWith {
    #[uniffi(name = "UnitOffice")]
    Unit {
        unit_id: Uuid,
    },
    Account {
        account_id: Uuid,
    },
}

#[uniffi::remote(Enum)]
pub enum FilingStatus {
    Draft,
    Pending,
    Approved,
    Recorded,
    Rejected,
    Withdrawn,
    Cancelled,
    Away,
    Returned,
}

#[uniffi::remote(Enum)]
pub enum Action {
    Submit,
    Approve,
    Reject,
    Withdraw,
    Cancel,
    Depart,
    Return,
    Extend,
}

#[uniffi::remote(Record)]
pub struct Region {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub kind: DestinationKind,
    pub parent: Option<String>,
}

#[uniffi::remote(Enum)]
pub enum DestinationKind {
    Province,
    Prefecture,
    HongKong,
    Macau,
    Taiwan,
    Country,
}
