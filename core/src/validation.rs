//! Validation issues: a stable code, a field path, parameters and a message in
//! zh-CN or en. Errors and warnings of an assessment, and 422 bodies of the API,
//! carry the same items.

use crate::lang::Lang;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The stable codes clients may rely on.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueCode {
    /// A required field is missing or blank.
    Required,
    /// A text is longer than allowed (`max`).
    TooLong,
    /// `return_on` is before `depart_on`.
    ReturnBeforeDeparture,
    /// The trip is longer than the rule allows (`max_days`).
    TripTooLong,
    /// Departure more than 365 days ahead.
    DepartureTooFarAhead,
    /// Departure more than 30 days ago.
    RetroactiveTooOld,
    /// A destination code is not known.
    DestinationUnknown,
    /// A `leave_jurisdiction` trip with no destination outside the jurisdiction.
    DestinationInsideJurisdiction,
    /// A destination does not fit the trip kind.
    DestinationKindMismatch,
    /// The contact phone is not a phone number.
    PhoneInvalid,
    /// Principals and deputies must name a substitute.
    SubstituteRequired,
    /// The substitute cannot be the filer.
    SubstituteIsFiler,
    /// Filing after departure needs a late reason.
    LateReasonRequired,
    /// A special period blocks this destination.
    DestinationBlocked,
    /// Approval is required but nobody can approve.
    NoApprover,
    /// Warning: an approver post is vacant and was skipped (`rule`).
    ApproverVacant,
    /// Warning: no rule matches; reporting is required as the safe default.
    NoRule,
    /// Warning: the matching rule lacks a requirement.
    RuleIncomplete,
    /// A policy repeats a rule id.
    DuplicateRuleId,
    /// A number is out of its range (`min`, `max`).
    OutOfRange,
    /// A value has the wrong type or an unknown enum value.
    Invalid,
    /// An evidence record names nobody in the unit's subtree (by
    /// `employee_no` or `login`).
    UnknownPerson,
    /// A date lies outside 1900-01-01..=2100-12-31 (`min`, `max`).
    DateOutOfRange,
    /// Departure reported more than a day before the filing's planned one
    /// (`depart_on`, `earliest`): cancel the filing and file the real dates.
    DepartureBeforePlanned,
}

impl IssueCode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueCode::Required => "required",
            IssueCode::TooLong => "too_long",
            IssueCode::ReturnBeforeDeparture => "return_before_departure",
            IssueCode::TripTooLong => "trip_too_long",
            IssueCode::DepartureTooFarAhead => "departure_too_far_ahead",
            IssueCode::RetroactiveTooOld => "retroactive_too_old",
            IssueCode::DestinationUnknown => "destination_unknown",
            IssueCode::DestinationInsideJurisdiction => "destination_inside_jurisdiction",
            IssueCode::DestinationKindMismatch => "destination_kind_mismatch",
            IssueCode::PhoneInvalid => "phone_invalid",
            IssueCode::SubstituteRequired => "substitute_required",
            IssueCode::SubstituteIsFiler => "substitute_is_filer",
            IssueCode::LateReasonRequired => "late_reason_required",
            IssueCode::DestinationBlocked => "destination_blocked",
            IssueCode::NoApprover => "no_approver",
            IssueCode::ApproverVacant => "approver_vacant",
            IssueCode::NoRule => "no_rule",
            IssueCode::RuleIncomplete => "rule_incomplete",
            IssueCode::DuplicateRuleId => "duplicate_rule_id",
            IssueCode::OutOfRange => "out_of_range",
            IssueCode::Invalid => "invalid",
            IssueCode::UnknownPerson => "unknown_person",
            IssueCode::DateOutOfRange => "date_out_of_range",
            IssueCode::DepartureBeforePlanned => "departure_before_planned",
        }
    }
}

/// The parameters an issue may carry. Each is optional: an issue carries
/// those its code names, and a client may rely on them to word its own message.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
pub struct IssueParams {
    /// `too_long`, `out_of_range`: the largest length or value allowed; for a
    /// date out of range, the last day allowed.
    pub max: Option<IssueBound>,
    /// `out_of_range`: the smallest value allowed; for a date out of range,
    /// the first day allowed.
    pub min: Option<IssueBound>,
    /// `trip_too_long`, `departure_too_far_ahead`, `retroactive_too_old`: the limit in days.
    pub max_days: Option<i64>,
    /// `destination_unknown`, `destination_kind_mismatch`, `destination_blocked`: the destination code.
    pub code: Option<String>,
    /// `destination_kind_mismatch`: the kind of the destination.
    pub kind: Option<String>,
    /// `destination_inside_jurisdiction`: the home jurisdiction's code.
    pub home_code: Option<String>,
    /// `rule_incomplete`: the policy rule's id.
    pub rule_id: Option<String>,
    /// `approver_vacant`: the approver rule's kind.
    pub rule: Option<String>,
    /// `approver_vacant`: the rule's place in the chain, from 0.
    pub index: Option<i64>,
    /// `destination_blocked`: the special period's name.
    pub special_period: Option<String>,
    /// `destination_blocked`: the special period's id.
    pub special_period_id: Option<String>,
    /// `duplicate_rule_id`: the repeated rule id.
    pub id: Option<String>,
    /// `invalid`: why, as a stable word (for example `self`, `unknown_account`, `out_of_unit`).
    pub reason: Option<String>,
    /// `invalid`: the values allowed.
    pub allowed: Option<Vec<String>>,
    /// `invalid`: the pattern the value must match.
    pub pattern: Option<String>,
    /// `return_before_departure`: the date the value must come after.
    pub after: Option<String>,
}

/// A bound an issue names: a number, or a day for a date out of range.
#[cfg(feature = "openapi")]
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum IssueBound {
    /// A length or a value.
    #[schema(title = "NumberBound")]
    Number(i64),
    /// A day, `YYYY-MM-DD`.
    #[schema(title = "DateBound")]
    Date(chrono::NaiveDate),
}

/// One validation error or warning.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    /// Stable code.
    pub code: IssueCode,
    /// Field path such as `destinations[1].code`; `None` when it concerns the whole draft.
    pub field: Option<String>,
    /// Parameters of the message; which ones depends on `code`.
    #[cfg_attr(feature = "openapi", schema(value_type = IssueParams))]
    pub params: Value,
    /// Human-readable message in the requested language.
    pub message: String,
}

impl Issue {
    /// An issue whose message is written later with [`Issue::localized`].
    pub fn new(code: IssueCode, field: Option<String>, params: Value) -> Self {
        Self {
            code,
            field,
            params,
            message: String::new(),
        }
    }

    /// The same issue with its message written in `lang`.
    pub fn localized(mut self, lang: Lang) -> Self {
        self.message = message(self.code, self.field.as_deref(), &self.params, lang);
        self
    }
}

fn param(params: &Value, key: &str) -> String {
    match params.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// The message for a code in a language. Parameters are interpolated; no
/// personal data ever enters a message.
pub fn message(code: IssueCode, field: Option<&str>, params: &Value, lang: Lang) -> String {
    let field = match field {
        Some(f) if !f.is_empty() => f,
        _ => lang.pick("请求体", "The body"),
    };
    let p = |k: &str| param(params, k);
    match (code, lang) {
        (IssueCode::Required, Lang::ZhCn) => format!("请填写 {field}"),
        (IssueCode::Required, Lang::En) => format!("{field} is required"),
        (IssueCode::TooLong, Lang::ZhCn) => format!("{field} 不能超过 {} 个字符", p("max")),
        (IssueCode::TooLong, Lang::En) => {
            format!("{field} must be at most {} characters", p("max"))
        }
        (IssueCode::ReturnBeforeDeparture, Lang::ZhCn) => "返回日期早于出发日期".into(),
        (IssueCode::ReturnBeforeDeparture, Lang::En) => {
            "The return date is before the departure date".into()
        }
        (IssueCode::TripTooLong, Lang::ZhCn) => {
            format!("行程超过规定的最长 {} 天", p("max_days"))
        }
        (IssueCode::TripTooLong, Lang::En) => {
            format!("The trip is longer than the {} days allowed", p("max_days"))
        }
        (IssueCode::DepartureTooFarAhead, Lang::ZhCn) => "出发日期不能晚于一年以后".into(),
        (IssueCode::DepartureTooFarAhead, Lang::En) => {
            "The departure date is more than 365 days ahead".into()
        }
        (IssueCode::RetroactiveTooOld, Lang::ZhCn) => "出发日期已超过 30 天，不能补报".into(),
        (IssueCode::RetroactiveTooOld, Lang::En) => {
            "The departure was more than 30 days ago and can no longer be reported".into()
        }
        (IssueCode::DestinationUnknown, Lang::ZhCn) => format!("未知的目的地代码 {}", p("code")),
        (IssueCode::DestinationUnknown, Lang::En) => {
            format!("Unknown destination code {}", p("code"))
        }
        (IssueCode::DestinationInsideJurisdiction, Lang::ZhCn) => {
            "离开辖区的行程至少要有一个辖区以外的目的地".into()
        }
        (IssueCode::DestinationInsideJurisdiction, Lang::En) => {
            "A trip leaving the jurisdiction needs a destination outside it".into()
        }
        (IssueCode::DestinationKindMismatch, Lang::ZhCn) => {
            format!("目的地 {} 与行程类型不符", p("code"))
        }
        (IssueCode::DestinationKindMismatch, Lang::En) => {
            format!("Destination {} does not fit the trip kind", p("code"))
        }
        (IssueCode::PhoneInvalid, Lang::ZhCn) => "联系电话格式不正确".into(),
        (IssueCode::PhoneInvalid, Lang::En) => "The contact phone is not a valid number".into(),
        (IssueCode::SubstituteRequired, Lang::ZhCn) => "领导干部外出须明确代为履职人员".into(),
        (IssueCode::SubstituteRequired, Lang::En) => {
            "Principals and deputies must name a substitute".into()
        }
        (IssueCode::SubstituteIsFiler, Lang::ZhCn) => "代为履职人员不能是本人".into(),
        (IssueCode::SubstituteIsFiler, Lang::En) => "The substitute cannot be yourself".into(),
        (IssueCode::LateReasonRequired, Lang::ZhCn) => "出发后补报须说明原因".into(),
        (IssueCode::LateReasonRequired, Lang::En) => {
            "Reporting after departure needs a late reason".into()
        }
        (IssueCode::DestinationBlocked, Lang::ZhCn) => {
            format!("特殊时期（{}）禁止前往 {}", p("special_period"), p("code"))
        }
        (IssueCode::DestinationBlocked, Lang::En) => format!(
            "Trips to {} are blocked during the special period {}",
            p("code"),
            p("special_period")
        ),
        (IssueCode::NoApprover, Lang::ZhCn) => "需要审批，但没有可审批的人员".into(),
        (IssueCode::NoApprover, Lang::En) => {
            "Approval is required but nobody can approve this trip".into()
        }
        (IssueCode::ApproverVacant, Lang::ZhCn) => {
            format!("审批岗位 {} 空缺，已跳过", p("rule"))
        }
        (IssueCode::ApproverVacant, Lang::En) => {
            format!("The approver post {} is vacant and was skipped", p("rule"))
        }
        (IssueCode::NoRule, Lang::ZhCn) => "本单位制度未规定此类外出，按报备处理".into(),
        (IssueCode::NoRule, Lang::En) => {
            "No rule of the policy covers this trip; it must be reported".into()
        }
        (IssueCode::RuleIncomplete, Lang::ZhCn) => {
            format!("制度条款 {} 未规定报备或审批，按报备处理", p("rule_id"))
        }
        (IssueCode::RuleIncomplete, Lang::En) => format!(
            "Rule {} sets no requirement; the trip must be reported",
            p("rule_id")
        ),
        (IssueCode::DuplicateRuleId, Lang::ZhCn) => format!("条款编号 {} 重复", p("id")),
        (IssueCode::DuplicateRuleId, Lang::En) => format!("Rule id {} is used twice", p("id")),
        (IssueCode::OutOfRange, Lang::ZhCn) => {
            format!("{field} 应在 {} 到 {} 之间", p("min"), p("max"))
        }
        (IssueCode::OutOfRange, Lang::En) => {
            format!("{field} must be between {} and {}", p("min"), p("max"))
        }
        (IssueCode::Invalid, Lang::ZhCn) => format!("{field} 的值无效"),
        (IssueCode::Invalid, Lang::En) => format!("{field} has an invalid value"),
        (IssueCode::UnknownPerson, Lang::ZhCn) => format!("{field} 不是本单位及下级单位的人员"),
        (IssueCode::UnknownPerson, Lang::En) => {
            format!("{field} names nobody in the unit or the units below it")
        }
        (IssueCode::DateOutOfRange, Lang::ZhCn) => {
            format!("{field} 应在 {} 到 {} 之间", p("min"), p("max"))
        }
        (IssueCode::DateOutOfRange, Lang::En) => {
            format!("{field} must be a day from {} to {}", p("min"), p("max"))
        }
        (IssueCode::DepartureBeforePlanned, Lang::ZhCn) => format!(
            "本次报备的出发日期是 {}，最早 {} 才能报告出发。如已提前出行，请撤销本次报备，按实际日期重新报备",
            p("depart_on"),
            p("earliest")
        ),
        (IssueCode::DepartureBeforePlanned, Lang::En) => format!(
            "This filing departs on {} and departure can be reported from {} on. If you are leaving earlier, cancel this filing and file a new one with the real dates",
            p("depart_on"),
            p("earliest")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ALL: [IssueCode; 24] = [
        IssueCode::Required,
        IssueCode::TooLong,
        IssueCode::ReturnBeforeDeparture,
        IssueCode::TripTooLong,
        IssueCode::DepartureTooFarAhead,
        IssueCode::RetroactiveTooOld,
        IssueCode::DestinationUnknown,
        IssueCode::DestinationInsideJurisdiction,
        IssueCode::DestinationKindMismatch,
        IssueCode::PhoneInvalid,
        IssueCode::SubstituteRequired,
        IssueCode::SubstituteIsFiler,
        IssueCode::LateReasonRequired,
        IssueCode::DestinationBlocked,
        IssueCode::NoApprover,
        IssueCode::ApproverVacant,
        IssueCode::NoRule,
        IssueCode::RuleIncomplete,
        IssueCode::DuplicateRuleId,
        IssueCode::OutOfRange,
        IssueCode::Invalid,
        IssueCode::UnknownPerson,
        IssueCode::DateOutOfRange,
        IssueCode::DepartureBeforePlanned,
    ];

    #[test]
    fn every_code_has_a_message_in_both_languages_and_a_matching_wire_name() {
        for code in ALL {
            let wire = serde_json::to_value(code).unwrap();
            assert_eq!(wire, json!(code.as_str()));
            for lang in [Lang::ZhCn, Lang::En] {
                let text = message(code, Some("reason"), &json!({}), lang);
                assert!(!text.trim().is_empty(), "{code:?} {lang:?}");
            }
            assert_ne!(
                message(code, Some("reason"), &json!({}), Lang::ZhCn),
                message(code, Some("reason"), &json!({}), Lang::En)
            );
        }
    }

    #[test]
    fn an_early_departure_tells_the_filer_to_file_the_real_dates() {
        let params = json!({"depart_on": "2027-05-01", "earliest": "2027-04-30"});
        let en = message(
            IssueCode::DepartureBeforePlanned,
            Some("depart_on"),
            &params,
            Lang::En,
        );
        assert!(
            en.contains("2027-05-01") && en.contains("2027-04-30"),
            "{en}"
        );
        assert!(en.contains("cancel this filing"), "{en}");
        let zh = message(
            IssueCode::DepartureBeforePlanned,
            Some("depart_on"),
            &params,
            Lang::ZhCn,
        );
        assert!(zh.contains("2027-04-30") && zh.contains("撤销"), "{zh}");
    }

    #[test]
    fn messages_interpolate_params() {
        let issue = Issue::new(
            IssueCode::TripTooLong,
            Some("return_on".into()),
            json!({"max_days": 10}),
        )
        .localized(Lang::En);
        assert_eq!(issue.message, "The trip is longer than the 10 days allowed");
        let issue = issue.localized(Lang::ZhCn);
        assert!(issue.message.contains("10"));
    }
}
