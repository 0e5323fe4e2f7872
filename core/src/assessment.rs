//! The assessment: what a trip requires of this filer, computed from the
//! account's profile, the effective policy, special periods, the calendar, the
//! draft and the current time. A pure function: the phone runs it offline, the
//! server runs it authoritatively, and shared test vectors prove they agree.

use crate::calendar::Calendar;
use crate::draft::{TripDraft, TripKind};
use crate::lang::Lang;
use crate::org::{DirectoryAccount, Org, OrgIndex};
use crate::policy::{ApproverRule, EffectivePolicy, FiledWith, Form, Period, Requirement, Rule};
use crate::profile::Profile;
use crate::regions::{self, DestinationKind};
use crate::special_period::{RestrictionAction, SpecialPeriod};
use crate::validation::{Issue, IssueCode};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// Longest free text in a draft, in characters.
pub const MAX_TEXT_CHARS: usize = 500;
/// Most destinations one draft may list.
pub const MAX_DESTINATIONS: usize = 20;
/// How far ahead a departure may be planned, in days.
pub const MAX_DAYS_AHEAD: i64 = 365;
/// How long after departure a retroactive report is still accepted, in days.
pub const MAX_DAYS_RETROACTIVE: i64 = 30;
/// The hour of the submit-by deadline on its day.
pub const DEADLINE_HOUR: u32 = 18;

/// Jurisdiction-wide settings.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The home jurisdiction's division code (Beijing by default).
    #[serde(default = "default_home_code")]
    pub home_code: String,
    /// The jurisdiction's time zone; local dates and deadlines are in it.
    #[serde(default = "default_time_zone")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "Asia/Shanghai"))]
    pub time_zone: Tz,
}

fn default_home_code() -> String {
    "110000".to_owned()
}

fn default_time_zone() -> Tz {
    chrono_tz::Asia::Shanghai
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            home_code: default_home_code(),
            time_zone: default_time_zone(),
        }
    }
}

/// Everything an assessment depends on.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssessmentInput {
    /// The current time.
    pub now: DateTime<FixedOffset>,
    /// Home jurisdiction and time zone.
    #[serde(default)]
    pub settings: Settings,
    /// Language of messages.
    #[serde(default)]
    pub lang: Lang,
    /// The filer.
    pub profile: Profile,
    /// The filer's part of the unit tree.
    #[serde(default)]
    pub org: Org,
    /// The effective policy of the filer's node, if any unit above has one.
    #[serde(default)]
    pub policy: Option<EffectivePolicy>,
    /// Special periods that may apply (the assessment checks scope, kind and dates).
    #[serde(default)]
    pub special_periods: Vec<SpecialPeriod>,
    /// Calendar years replaced by admins.
    #[serde(default)]
    pub calendar: Calendar,
    /// The trip.
    pub draft: TripDraft,
}

/// One account an approver step resolves to.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// The account.
    pub account_id: Uuid,
    /// Its name.
    pub display_name: String,
}

/// One step of the resolved approver chain.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedApprover {
    /// Step number, from 1.
    pub step: u32,
    /// The approver rule this step comes from.
    pub rule: ApproverRule,
    /// The approver (for a `role` rule with several holders, the first of them).
    pub account_id: Uuid,
    /// The approver's name.
    pub display_name: String,
    /// Everyone who may decide this step (several only for `role` rules).
    pub candidates: Vec<Candidate>,
}

/// A travel document a trip needs.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Passport, for trips abroad.
    Passport,
    /// Pass for Hong Kong and Macau.
    HkMacauPass,
    /// Pass for Taiwan.
    TaiwanPass,
}

impl DocumentKind {
    /// The travel document a kind of trip needs, if any.
    pub fn for_trip(kind: TripKind) -> Option<Self> {
        match kind {
            TripKind::LeaveJurisdiction => None,
            TripKind::AbroadPrivate => Some(DocumentKind::Passport),
            TripKind::HkMacauPrivate => Some(DocumentKind::HkMacauPass),
            TripKind::TaiwanPrivate => Some(DocumentKind::TaiwanPass),
        }
    }

    /// The kind of trip this document serves.
    pub fn trip_kind(self) -> TripKind {
        TripKind::ALL
            .into_iter()
            .find(|k| Self::for_trip(*k) == Some(self))
            .unwrap_or(TripKind::AbroadPrivate)
    }
}

/// The answer: what the trip requires, and what is wrong with the draft.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// No errors.
    pub valid: bool,
    /// Validation errors.
    pub errors: Vec<Issue>,
    /// Warnings (`no_rule`, `approver_vacant`, `rule_incomplete`).
    pub warnings: Vec<Issue>,
    /// The period the trip falls in; unknown without kind and departure date.
    pub period: Option<Period>,
    /// What the trip requires; unknown without kind and departure date.
    pub requirement: Option<Requirement>,
    /// The rule that applied.
    pub rule_id: Option<String>,
    /// The unit whose policy applied.
    pub policy_unit_id: Option<Uuid>,
    /// The version of that policy.
    pub policy_version: Option<i64>,
    /// Special periods that applied.
    pub special_period_ids: Vec<Uuid>,
    /// The approver chain, in order.
    pub approvers: Vec<ResolvedApprover>,
    /// Who the filing goes to for information.
    pub filed_with: Vec<FiledWith>,
    /// The form of the filing.
    pub form: Option<Form>,
    /// When the filing must be in.
    pub submit_by: Option<DateTime<FixedOffset>>,
    /// Whether it is already past `submit_by`.
    pub late: bool,
    /// When the return report is due.
    pub return_report_due: Option<DateTime<FixedOffset>>,
    /// Travel documents needed.
    pub documents_required: Vec<DocumentKind>,
    /// The longest trip the rule allows, in days.
    pub max_days: Option<u32>,
}

/// Local midnight starting `date`, as a fixed-offset time.
pub fn start_of_day(tz: Tz, date: NaiveDate) -> DateTime<FixedOffset> {
    local(tz, date, NaiveTime::MIN)
}

fn local(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<FixedOffset> {
    let naive = date.and_time(time);
    match tz.from_local_datetime(&naive).earliest() {
        Some(t) => t.fixed_offset(),
        // A local time skipped by a clock change: take the same wall time in UTC
        // shifted by the zone's offset an hour later, which exists.
        None => {
            let later = naive + Duration::hours(1);
            tz.from_local_datetime(&later)
                .earliest()
                .map(|t| t.fixed_offset())
                .unwrap_or_else(|| naive.and_utc().fixed_offset())
        }
    }
}

fn deadline_time() -> NaiveTime {
    NaiveTime::from_hms_opt(DEADLINE_HOUR, 0, 0).unwrap_or(NaiveTime::MIN)
}

/// Runs the assessment.
pub fn assess(input: &AssessmentInput) -> Assessment {
    Assessor::new(input).run()
}

struct Assessor<'a> {
    input: &'a AssessmentInput,
    org: OrgIndex<'a>,
    tz: Tz,
    today: NaiveDate,
    errors: Vec<Issue>,
    warnings: Vec<Issue>,
}

fn blank(text: &Option<String>) -> bool {
    text.as_deref().is_none_or(|t| t.trim().is_empty())
}

fn too_long(text: &Option<String>) -> bool {
    text.as_deref()
        .is_some_and(|t| t.chars().count() > MAX_TEXT_CHARS)
}

/// Whether a contact number looks dialable: a mainland mobile (11 digits from
/// `13`–`19`), a landline with area code (10–12 digits from `0`), or an
/// international number (`+` and 7–15 digits). Spaces and hyphens are ignored.
pub fn phone_is_valid(phone: &str) -> bool {
    let compact: String = phone.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if let Some(rest) = compact.strip_prefix('+') {
        return (7..=15).contains(&rest.len())
            && rest.chars().all(|c| c.is_ascii_digit())
            && !rest.starts_with('0');
    }
    if !compact.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let bytes = compact.as_bytes();
    match bytes.first() {
        Some(b'1') => bytes.len() == 11 && matches!(bytes.get(1), Some(b'3'..=b'9')),
        Some(b'0') => (10..=12).contains(&bytes.len()),
        _ => false,
    }
}

fn destination_fits(kind: TripKind, dest: DestinationKind) -> bool {
    match kind {
        TripKind::LeaveJurisdiction => dest.is_mainland(),
        TripKind::AbroadPrivate => dest == DestinationKind::Country,
        TripKind::HkMacauPrivate => {
            matches!(dest, DestinationKind::HongKong | DestinationKind::Macau)
        }
        TripKind::TaiwanPrivate => dest == DestinationKind::Taiwan,
    }
}

impl<'a> Assessor<'a> {
    fn new(input: &'a AssessmentInput) -> Self {
        let tz = input.settings.time_zone;
        Self {
            input,
            org: OrgIndex::new(&input.org),
            tz,
            today: input.now.with_timezone(&tz).date_naive(),
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn error(&mut self, code: IssueCode, field: &str, params: serde_json::Value) {
        self.errors
            .push(Issue::new(code, Some(field.to_owned()), params));
    }

    fn validate_draft(&mut self) {
        let draft = &self.input.draft;
        let profile = &self.input.profile;
        if draft.kind.is_none() {
            self.error(IssueCode::Required, "kind", json!({}));
        }
        if draft.purpose.is_none() {
            self.error(IssueCode::Required, "purpose", json!({}));
        }
        if blank(&draft.reason) {
            self.error(IssueCode::Required, "reason", json!({}));
        } else if too_long(&draft.reason) {
            self.error(IssueCode::TooLong, "reason", json!({"max": MAX_TEXT_CHARS}));
        }
        self.validate_destinations();
        match (draft.depart_on, draft.return_on) {
            (None, _) => self.error(IssueCode::Required, "depart_on", json!({})),
            (Some(depart), _) if depart > self.today + Duration::days(MAX_DAYS_AHEAD) => self
                .error(
                    IssueCode::DepartureTooFarAhead,
                    "depart_on",
                    json!({"max_days": MAX_DAYS_AHEAD}),
                ),
            (Some(depart), _) if depart < self.today - Duration::days(MAX_DAYS_RETROACTIVE) => self
                .error(
                    IssueCode::RetroactiveTooOld,
                    "depart_on",
                    json!({"max_days": MAX_DAYS_RETROACTIVE}),
                ),
            _ => {}
        }
        match (draft.depart_on, draft.return_on) {
            (_, None) => self.error(IssueCode::Required, "return_on", json!({})),
            (Some(depart), Some(ret)) if ret < depart => {
                self.error(IssueCode::ReturnBeforeDeparture, "return_on", json!({}))
            }
            _ => {}
        }
        match draft.contact_phone.as_deref().map(str::trim) {
            None | Some("") => self.error(IssueCode::Required, "contact_phone", json!({})),
            Some(phone) if !phone_is_valid(phone) => {
                self.error(IssueCode::PhoneInvalid, "contact_phone", json!({}))
            }
            Some(_) => {}
        }
        match draft.substitute_id {
            None if profile.position.is_leader() => {
                self.error(IssueCode::SubstituteRequired, "substitute_id", json!({}))
            }
            Some(id) if id == profile.account_id => {
                self.error(IssueCode::SubstituteIsFiler, "substitute_id", json!({}))
            }
            _ => {}
        }
        if too_long(&draft.companions) {
            self.error(
                IssueCode::TooLong,
                "companions",
                json!({"max": MAX_TEXT_CHARS}),
            );
        }
        if too_long(&draft.late_reason) {
            self.error(
                IssueCode::TooLong,
                "late_reason",
                json!({"max": MAX_TEXT_CHARS}),
            );
        }
    }

    fn validate_destinations(&mut self) {
        let draft = &self.input.draft;
        if draft.destinations.is_empty() {
            self.error(IssueCode::Required, "destinations", json!({}));
            return;
        }
        if draft.destinations.len() > MAX_DESTINATIONS {
            self.error(
                IssueCode::TooLong,
                "destinations",
                json!({"max": MAX_DESTINATIONS}),
            );
        }
        let mut mainland_known = 0;
        let mut outside = 0;
        for (i, dest) in draft.destinations.iter().enumerate() {
            let field = format!("destinations[{i}].code");
            let code = dest.code.trim();
            if code.is_empty() {
                self.error(IssueCode::Required, &field, json!({}));
                continue;
            }
            let Some(region) = regions::lookup(code) else {
                self.error(IssueCode::DestinationUnknown, &field, json!({"code": code}));
                continue;
            };
            if let Some(kind) = draft.kind {
                if !destination_fits(kind, region.kind) {
                    self.error(
                        IssueCode::DestinationKindMismatch,
                        &field,
                        json!({"code": code, "kind": kind.as_str()}),
                    );
                } else if kind == TripKind::LeaveJurisdiction {
                    mainland_known += 1;
                    if !regions::is_inside_jurisdiction(code, &self.input.settings.home_code) {
                        outside += 1;
                    }
                }
            }
        }
        if mainland_known > 0 && outside == 0 {
            self.error(
                IssueCode::DestinationInsideJurisdiction,
                "destinations",
                json!({"home_code": self.input.settings.home_code}),
            );
        }
    }

    /// Special periods whose subtree holds the filer, whose kinds list the trip
    /// kind (an empty list means every kind) and whose days overlap the trip.
    fn applicable_periods(
        &self,
        kind: TripKind,
        depart: NaiveDate,
        end: NaiveDate,
    ) -> Vec<&'a SpecialPeriod> {
        let filer_node = self.input.profile.unit_id;
        self.input
            .special_periods
            .iter()
            .filter(|sp| sp.unit_id == filer_node || self.org.is_within(filer_node, sp.unit_id))
            .filter(|sp| sp.trip_kinds.is_empty() || sp.trip_kinds.contains(&kind))
            .filter(|sp| sp.overlaps(depart, end))
            .collect()
    }

    fn period(&self, specials: &[&SpecialPeriod], depart: NaiveDate, end: NaiveDate) -> Period {
        if !specials.is_empty() {
            return Period::Special;
        }
        let calendar = &self.input.calendar;
        if depart
            .iter_days()
            .take_while(|d| *d <= end)
            .any(|d| calendar.is_holiday(d))
        {
            Period::Holiday
        } else {
            Period::Normal
        }
    }

    fn run(mut self) -> Assessment {
        self.validate_draft();
        let input = self.input;
        let draft = &input.draft;
        let mut assessment = Assessment {
            valid: false,
            errors: Vec::new(),
            warnings: Vec::new(),
            period: None,
            requirement: None,
            rule_id: None,
            policy_unit_id: input.policy.as_ref().map(|p| p.source_unit_id),
            policy_version: input.policy.as_ref().map(|p| p.version),
            special_period_ids: Vec::new(),
            approvers: Vec::new(),
            filed_with: Vec::new(),
            form: None,
            submit_by: None,
            late: false,
            return_report_due: None,
            documents_required: Vec::new(),
            max_days: None,
        };
        if let (Some(kind), Some(depart)) = (draft.kind, draft.depart_on) {
            let end = draft.return_on.filter(|r| *r >= depart).unwrap_or(depart);
            self.decide(&mut assessment, kind, depart, end);
        }
        let lang = input.lang;
        assessment.errors = self.errors.into_iter().map(|i| i.localized(lang)).collect();
        assessment.warnings = self
            .warnings
            .into_iter()
            .map(|i| i.localized(lang))
            .collect();
        assessment.valid = assessment.errors.is_empty();
        assessment
    }

    fn decide(&mut self, out: &mut Assessment, kind: TripKind, depart: NaiveDate, end: NaiveDate) {
        let input = self.input;
        let draft = &input.draft;
        let specials = self.applicable_periods(kind, depart, end);
        let period = self.period(&specials, depart, end);
        let rule_for = |period| {
            input
                .policy
                .as_ref()
                .and_then(|p| p.policy.rule_for(&input.profile, kind, period))
        };
        let rule: Option<&Rule> = rule_for(period);
        // A special period only ever tightens: the rule the trip would fall under
        // without it sets a floor for the requirement and lends its approvers.
        let baseline: Option<&Rule> = if specials.is_empty() {
            None
        } else {
            rule_for(self.period(&[], depart, end))
        };

        let mut requirement = match rule {
            None => {
                self.warnings
                    .push(Issue::new(IssueCode::NoRule, None, json!({})));
                Requirement::Report
            }
            Some(rule) => rule.requirement.unwrap_or_else(|| {
                self.warnings.push(Issue::new(
                    IssueCode::RuleIncomplete,
                    None,
                    json!({"rule_id": rule.id}),
                ));
                Requirement::Report
            }),
        };
        if !specials.is_empty() {
            // Without a rule the trip would have to be reported.
            let floor = baseline
                .and_then(|r| r.requirement)
                .unwrap_or(Requirement::Report);
            requirement = requirement.max(floor);
        }
        for sp in &specials {
            requirement = requirement.max(sp.min_requirement);
            for (i, dest) in draft.destinations.iter().enumerate() {
                let code = dest.code.trim();
                for restriction in sp.restricted_destinations.iter() {
                    if !regions::is_inside(code, restriction.code.trim()) {
                        continue;
                    }
                    match restriction.action {
                        RestrictionAction::Blocked => self.error(
                            IssueCode::DestinationBlocked,
                            &format!("destinations[{i}].code"),
                            json!({"code": code, "special_period": sp.name, "special_period_id": sp.id}),
                        ),
                        RestrictionAction::Approval => requirement = requirement.max(Requirement::Approval),
                    }
                }
            }
        }

        if let (Some(max_days), Some(ret)) = (rule.and_then(|r| r.max_days), draft.return_on)
            && ret >= depart
            && (ret - depart).num_days() + 1 > i64::from(max_days)
        {
            self.error(
                IssueCode::TripTooLong,
                "return_on",
                json!({"max_days": max_days}),
            );
        }

        if requirement == Requirement::Approval {
            let with_approvers = |r: &&Rule| !r.approvers.is_empty();
            let chain: Vec<&ApproverRule> = match rule
                .filter(with_approvers)
                .or(baseline.filter(with_approvers))
            {
                Some(rule) => rule.approvers.iter().collect(),
                None => specials.iter().flat_map(|sp| sp.approvers.iter()).collect(),
            };
            out.approvers = self.resolve_chain(&chain);
            if out.approvers.is_empty() {
                self.errors
                    .push(Issue::new(IssueCode::NoApprover, None, json!({})));
            }
        }

        if requirement != Requirement::None {
            let notice = rule.and_then(|r| r.notice);
            let submit_by = match notice {
                Some(n) if n.days > 0 => {
                    let day = if n.working_days {
                        input.calendar.nth_working_day_before(depart, n.days)
                    } else {
                        depart - Duration::days(i64::from(n.days))
                    };
                    local(self.tz, day, deadline_time())
                }
                _ => start_of_day(self.tz, depart),
            };
            out.submit_by = Some(submit_by);
            out.late = input.now > submit_by;
        }
        if input.now >= start_of_day(self.tz, depart) && blank(&draft.late_reason) {
            self.error(IssueCode::LateReasonRequired, "late_reason", json!({}));
        }
        if let (Some(report), Some(ret)) = (rule.and_then(|r| r.return_report), draft.return_on)
            && report.required
            && ret >= depart
        {
            let end_of_return = start_of_day(self.tz, ret.succ_opt().unwrap_or(ret));
            out.return_report_due =
                Some(end_of_return + Duration::hours(i64::from(report.within_hours)));
        }

        if rule.is_some_and(|r| r.documents_required) {
            out.documents_required = DocumentKind::for_trip(kind).into_iter().collect();
        }

        out.period = Some(period);
        out.requirement = Some(requirement);
        out.rule_id = rule.map(|r| r.id.clone());
        out.special_period_ids = specials.iter().map(|sp| sp.id).collect();
        out.filed_with = rule.map(|r| r.filed_with.clone()).unwrap_or_default();
        out.form = Some(rule.and_then(|r| r.form).unwrap_or(Form::Online));
        out.max_days = rule.and_then(|r| r.max_days);
    }

    /// The accounts a rule points at, before skipping the filer and repeats.
    fn candidates_for(&self, rule: &ApproverRule) -> Vec<&'a DirectoryAccount> {
        let node = self.input.profile.unit_id;
        let one = |id: Option<Uuid>| {
            id.and_then(|id| self.org.active_account(id))
                .into_iter()
                .collect()
        };
        match rule {
            ApproverRule::DepartmentHead => one(self.org.unit(node).and_then(|n| n.principal_id)),
            ApproverRule::UnitPrincipal => one(self.org.unit_of(node).and_then(|u| u.principal_id)),
            ApproverRule::DeputyInCharge => one(self
                .org
                .unit_of(node)
                .and_then(|u| self.org.deputy_in_charge(u, node))),
            ApproverRule::SuperiorPrincipal => one(self
                .org
                .unit_of(node)
                .and_then(|u| self.org.superior_of(u))
                .and_then(|s| s.principal_id)),
            ApproverRule::SuperiorDeputyInCharge => one(self.org.unit_of(node).and_then(|u| {
                self.org
                    .superior_of(u)
                    .and_then(|s| self.org.deputy_in_charge(s, u.id))
            })),
            ApproverRule::Account { account_id } => one(Some(*account_id)),
            ApproverRule::Role { role, unit_id } => self.org.role_holders(*role, *unit_id),
        }
    }

    fn resolve_chain(&mut self, rules: &[&ApproverRule]) -> Vec<ResolvedApprover> {
        let filer = self.input.profile.account_id;
        let mut chain: Vec<ResolvedApprover> = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let found = self.candidates_for(rule);
            if found.is_empty() {
                self.warnings.push(Issue::new(
                    IssueCode::ApproverVacant,
                    None,
                    json!({"rule": rule.kind(), "index": index}),
                ));
                continue;
            }
            let candidates: Vec<Candidate> = found
                .into_iter()
                .filter(|a| a.id != filer)
                .filter(|a| {
                    !chain
                        .iter()
                        .any(|s| s.candidates.iter().any(|c| c.account_id == a.id))
                })
                .map(|a| Candidate {
                    account_id: a.id,
                    display_name: a.display_name.clone(),
                })
                .collect();
            let Some(first) = candidates.first() else {
                continue;
            };
            chain.push(ResolvedApprover {
                step: u32::try_from(chain.len() + 1).unwrap_or(u32::MAX),
                rule: (*rule).clone(),
                account_id: first.account_id,
                display_name: first.display_name.clone(),
                candidates,
            });
        }
        chain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_document_serves_the_one_kind_of_trip_that_needs_it() {
        for kind in TripKind::ALL {
            if let Some(document) = DocumentKind::for_trip(kind) {
                assert_eq!(document.trip_kind(), kind);
            }
        }
        assert_eq!(DocumentKind::for_trip(TripKind::LeaveJurisdiction), None);
        assert_eq!(DocumentKind::Passport.trip_kind(), TripKind::AbroadPrivate);
        assert_eq!(
            DocumentKind::TaiwanPass.trip_kind(),
            TripKind::TaiwanPrivate
        );
    }
}
