//! Invariants of the assessment, checked over generated inputs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, NaiveDate, TimeZone};
use proptest::prelude::*;
use uuid::Uuid;
use whereabouts_core::assessment::start_of_day;
use whereabouts_core::*;

const UNIT: Uuid = Uuid::from_u128(0x1000_0001);
const DEPT: Uuid = Uuid::from_u128(0x1000_0002);
const FILER: Uuid = Uuid::from_u128(0xa000_0001);
const HEAD: Uuid = Uuid::from_u128(0xa000_0002);
const CHIEF: Uuid = Uuid::from_u128(0xa000_0003);

fn org() -> Org {
    Org {
        units: vec![
            OrgUnit {
                id: UNIT,
                kind: UnitKind::Unit,
                parent_id: None,
                name: "Bureau".into(),
                principal_id: Some(CHIEF),
                deputies: vec![],
            },
            OrgUnit {
                id: DEPT,
                kind: UnitKind::Department,
                parent_id: Some(UNIT),
                name: "Office".into(),
                principal_id: Some(HEAD),
                deputies: vec![],
            },
        ],
        accounts: [(FILER, "Filer"), (HEAD, "Head"), (CHIEF, "Chief")]
            .into_iter()
            .map(|(id, name)| DirectoryAccount {
                id,
                display_name: name.into(),
                active: true,
            })
            .collect(),
        role_grants: vec![],
    }
}

fn requirement() -> impl Strategy<Value = Requirement> {
    prop_oneof![
        Just(Requirement::None),
        Just(Requirement::Report),
        Just(Requirement::Approval)
    ]
}

fn trip_kind() -> impl Strategy<Value = TripKind> {
    proptest::sample::select(TripKind::ALL.to_vec())
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        proptest::option::of(requirement()),
        proptest::collection::vec(trip_kind(), 0..3),
        proptest::option::of((0u32..8, any::<bool>())),
        any::<bool>(),
        proptest::option::of(1u32..40),
    )
        .prop_map(
            |(requirement, trip_kinds, notice, two_steps, max_days)| Rule {
                id: String::new(),
                applies_to: Selector::default(),
                trip_kinds,
                periods: vec![],
                requirement,
                approvers: if two_steps {
                    vec![ApproverRule::DepartmentHead, ApproverRule::UnitPrincipal]
                } else {
                    vec![]
                },
                filed_with: vec![],
                form: Some(Form::Online),
                notice: notice.map(|(days, working_days)| Notice { days, working_days }),
                return_report: Some(ReturnReport {
                    required: true,
                    within_hours: 24,
                }),
                max_days,
                documents_required: true,
            },
        )
}

fn special_period(base: NaiveDate) -> impl Strategy<Value = SpecialPeriod> {
    (0i64..60, 0i64..10, requirement(), any::<bool>()).prop_map(
        move |(start, len, min, restrict)| SpecialPeriod {
            id: Uuid::from_u128(0x5000_0000 + start as u128),
            name: "special".into(),
            unit_id: UNIT,
            starts_on: base + Duration::days(start),
            ends_on: base + Duration::days(start + len),
            trip_kinds: vec![],
            min_requirement: min,
            approvers: vec![ApproverRule::UnitPrincipal],
            restricted_destinations: if restrict {
                vec![DestinationRestriction {
                    code: "310000".into(),
                    action: RestrictionAction::Approval,
                }]
            } else {
                vec![]
            },
        },
    )
}

fn input() -> impl Strategy<Value = AssessmentInput> {
    let base = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    (
        proptest::collection::vec(rule(), 0..4),
        proptest::collection::vec(special_period(base), 0..3),
        trip_kind(),
        proptest::sample::select(vec![
            "310000", "320500", "JP", "HK", "TW", "110000", "999999",
        ]),
        0i64..365,
        0i64..20,
        -40i64..60,
        0u32..24,
        proptest::sample::select(Position::ALL.to_vec()),
    )
        .prop_map(
            move |(mut rules, special_periods, kind, dest, depart, len, before, hour, position)| {
                for (i, rule) in rules.iter_mut().enumerate() {
                    rule.id = format!("r{i}");
                }
                let depart_on = base + Duration::days(depart);
                let now_date = depart_on - Duration::days(before);
                let now = chrono_tz::Asia::Shanghai
                    .from_local_datetime(&now_date.and_hms_opt(hour, 0, 0).unwrap_or_default())
                    .earliest()
                    .map(|t| t.fixed_offset())
                    .unwrap_or_default();
                AssessmentInput {
                    now,
                    settings: Settings::default(),
                    lang: Lang::En,
                    profile: Profile {
                        account_id: FILER,
                        unit_id: DEPT,
                        rank: Rank::Section,
                        position,
                        party_member: true,
                        public_official: true,
                        key_post: false,
                    },
                    org: org(),
                    policy: Some(EffectivePolicy {
                        policy: Policy { rules },
                        source_unit_id: UNIT,
                        version: 1,
                    }),
                    special_periods,
                    calendar: Calendar::default(),
                    draft: TripDraft {
                        kind: Some(kind),
                        purpose: Some(Purpose::Tourism),
                        reason: Some("family".into()),
                        destinations: vec![Destination { code: dest.into() }],
                        depart_on: Some(depart_on),
                        return_on: Some(depart_on + Duration::days(len)),
                        contact_phone: Some("13800138000".into()),
                        substitute_id: Some(HEAD),
                        companions: None,
                        late_reason: None,
                    },
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn assessment_is_deterministic(input in input()) {
        prop_assert_eq!(assess(&input), assess(&input));
    }

    #[test]
    fn a_special_period_never_lowers_the_requirement(input in input()) {
        let with = assess(&input);
        let mut without_input = input.clone();
        without_input.special_periods.clear();
        let without = assess(&without_input);
        if let (Some(w), Some(wo)) = (with.requirement, without.requirement) {
            prop_assert!(w >= wo, "{:?} < {:?}", w, wo);
        }
    }

    #[test]
    fn submit_by_is_never_after_departure(input in input()) {
        let a = assess(&input);
        if let (Some(submit_by), Some(depart)) = (a.submit_by, input.draft.depart_on) {
            prop_assert!(submit_by <= start_of_day(input.settings.time_zone, depart));
        }
    }

    #[test]
    fn an_assessment_with_errors_is_never_valid(input in input()) {
        let a = assess(&input);
        prop_assert_eq!(a.valid, a.errors.is_empty());
    }

    #[test]
    fn approval_always_has_a_chain_or_a_no_approver_error(input in input()) {
        let a = assess(&input);
        if a.requirement == Some(Requirement::Approval) {
            prop_assert!(!a.approvers.is_empty() || a.errors.iter().any(|e| e.code == IssueCode::NoApprover));
            prop_assert!(a.approvers.iter().all(|s| s.account_id != FILER));
        } else {
            prop_assert!(a.approvers.is_empty());
        }
    }
}
