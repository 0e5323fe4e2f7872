//! Policy completeness: a policy is complete when, for every rank × position ×
//! trip kind × period, some rule matches and that rule sets the requirement, a
//! non-empty approver chain when approval is required, a form and a notice period.

use crate::draft::TripKind;
use crate::policy::{Period, Policy, Requirement};
use crate::profile::{Position, Profile, Rank};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a combination lacks.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// No rule matches.
    Rule,
    /// The rule sets no requirement.
    Requirement,
    /// Approval is required but the rule names no approver.
    Approvers,
    /// The rule sets no form.
    Form,
    /// The rule sets no notice period.
    Notice,
}

/// One rank × position × trip kind × period combination that the policy leaves open.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageGap {
    /// Rank.
    pub rank: Rank,
    /// Position.
    pub position: Position,
    /// Trip kind.
    pub trip_kind: TripKind,
    /// Period.
    pub period: Period,
    /// What is missing (for some member with these attributes).
    pub missing: Vec<Missing>,
    /// The rule that matched, if one did.
    pub rule_id: Option<String>,
}

/// Every combination the policy leaves incomplete, in rank, position, kind, period
/// order. Rules that select on flags (key post, party member, public official)
/// must cover members with and without each flag: a combination is complete only
/// when it is complete for every flag setting.
pub fn policy_gaps(policy: &Policy) -> Vec<CoverageGap> {
    let mut gaps = Vec::new();
    for rank in Rank::ALL {
        for position in Position::ALL {
            for trip_kind in TripKind::ALL {
                for period in Period::ALL {
                    let mut missing: Vec<Missing> = Vec::new();
                    let mut rule_id = None;
                    for flags in 0u8..8 {
                        let profile = Profile {
                            account_id: Uuid::nil(),
                            unit_id: Uuid::nil(),
                            rank,
                            position,
                            key_post: flags & 1 != 0,
                            party_member: flags & 2 != 0,
                            public_official: flags & 4 != 0,
                        };
                        let found = match policy.rule_for(&profile, trip_kind, period) {
                            None => vec![Missing::Rule],
                            Some(rule) => {
                                let mut m = Vec::new();
                                match rule.requirement {
                                    None => m.push(Missing::Requirement),
                                    Some(Requirement::Approval) if rule.approvers.is_empty() => {
                                        m.push(Missing::Approvers)
                                    }
                                    Some(_) => {}
                                }
                                if rule.form.is_none() {
                                    m.push(Missing::Form);
                                }
                                if rule.notice.is_none() {
                                    m.push(Missing::Notice);
                                }
                                if !m.is_empty() && rule_id.is_none() {
                                    rule_id = Some(rule.id.clone());
                                }
                                m
                            }
                        };
                        missing.extend(found);
                    }
                    missing.sort();
                    missing.dedup();
                    if !missing.is_empty() {
                        gaps.push(CoverageGap {
                            rank,
                            position,
                            trip_kind,
                            period,
                            missing,
                            rule_id,
                        });
                    }
                }
            }
        }
    }
    gaps
}

/// The number of combinations [`policy_gaps`] checks.
pub const COMBINATIONS: usize =
    Rank::ALL.len() * Position::ALL.len() * TripKind::ALL.len() * Period::ALL.len();

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{ApproverRule, Form, Notice, Rule, Selector};

    fn full_rule(id: &str) -> Rule {
        Rule {
            id: id.into(),
            applies_to: Selector::default(),
            trip_kinds: vec![],
            periods: vec![],
            requirement: Some(Requirement::Approval),
            approvers: vec![ApproverRule::UnitPrincipal],
            filed_with: vec![],
            form: Some(Form::Online),
            notice: Some(Notice {
                days: 3,
                working_days: true,
            }),
            return_report: None,
            max_days: None,
            documents_required: false,
        }
    }

    #[test]
    fn an_empty_policy_misses_every_combination() {
        let gaps = policy_gaps(&Policy::default());
        assert_eq!(gaps.len(), COMBINATIONS);
        assert!(gaps.iter().all(|g| g.missing == vec![Missing::Rule]));
    }

    #[test]
    fn a_catch_all_complete_rule_covers_everything() {
        let policy = Policy {
            rules: vec![full_rule("all")],
        };
        assert!(policy_gaps(&policy).is_empty());
    }

    #[test]
    fn each_missing_part_is_named() {
        let mut rule = full_rule("all");
        rule.approvers.clear();
        rule.form = None;
        rule.notice = None;
        let gaps = policy_gaps(&Policy { rules: vec![rule] });
        assert_eq!(gaps.len(), COMBINATIONS);
        assert_eq!(
            gaps[0].missing,
            vec![Missing::Approvers, Missing::Form, Missing::Notice]
        );
        assert_eq!(gaps[0].rule_id.as_deref(), Some("all"));

        let mut rule = full_rule("all");
        rule.requirement = None;
        let gaps = policy_gaps(&Policy { rules: vec![rule] });
        assert_eq!(gaps[0].missing, vec![Missing::Requirement]);
    }

    #[test]
    fn a_rule_for_key_posts_only_leaves_the_others_open() {
        let mut rule = full_rule("key");
        rule.applies_to.key_post = Some(true);
        let gaps = policy_gaps(&Policy { rules: vec![rule] });
        assert_eq!(gaps.len(), COMBINATIONS);
        assert!(gaps.iter().all(|g| g.missing == vec![Missing::Rule]));
    }

    #[test]
    fn a_rule_for_one_trip_kind_leaves_the_other_kinds_open() {
        let mut rule = full_rule("leave");
        rule.trip_kinds = vec![TripKind::LeaveJurisdiction];
        let gaps = policy_gaps(&Policy { rules: vec![rule] });
        assert_eq!(gaps.len(), COMBINATIONS * 3 / 4);
        assert!(
            gaps.iter()
                .all(|g| g.trip_kind != TripKind::LeaveJurisdiction)
        );
    }
}
