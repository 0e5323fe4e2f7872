//! The filing lifecycle as a state machine: which transitions exist, who may
//! make each, and what each needs. The server enforces it; the phone uses it to
//! show which buttons a filer has.
//!
//! ```text
//! draft ─submit─▶ recorded            (requirement: report or none)
//!       └submit─▶ pending(step k) ─approve─▶ … ─approve(last)─▶ approved
//!                               └─reject──▶ rejected
//! pending ─withdraw─▶ withdrawn          approved|recorded ─cancel─▶ cancelled
//! approved|recorded ─depart─▶ away ─return─▶ returned
//! away ─extend─▶ away + extension pending ─approve(last)─▶ away (new return date)
//!                                         └─reject──────▶ away (old return date)
//! ```
//!
//! Departure is reported from the day before `depart_on` on (local date): a
//! trip that really leaves earlier is a different trip, to be filed anew.

use crate::policy::Requirement;
use crate::validation::{Issue, IssueCode};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use thiserror::Error;

/// Status of a filing.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilingStatus {
    /// Being written; not yet filed.
    Draft,
    /// Waiting for the approver of `current_step`.
    Pending,
    /// Approved by every step.
    Approved,
    /// Report-only, recorded.
    Recorded,
    /// Refused by an approver.
    Rejected,
    /// Taken back by the filer while pending.
    Withdrawn,
    /// Called off by the filer before departure.
    Cancelled,
    /// The filer is away.
    Away,
    /// The filer is back and has reported.
    Returned,
}

impl FilingStatus {
    /// Every status.
    pub const ALL: [FilingStatus; 9] = [
        FilingStatus::Draft,
        FilingStatus::Pending,
        FilingStatus::Approved,
        FilingStatus::Recorded,
        FilingStatus::Rejected,
        FilingStatus::Withdrawn,
        FilingStatus::Cancelled,
        FilingStatus::Away,
        FilingStatus::Returned,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            FilingStatus::Draft => "draft",
            FilingStatus::Pending => "pending",
            FilingStatus::Approved => "approved",
            FilingStatus::Recorded => "recorded",
            FilingStatus::Rejected => "rejected",
            FilingStatus::Withdrawn => "withdrawn",
            FilingStatus::Cancelled => "cancelled",
            FilingStatus::Away => "away",
            FilingStatus::Returned => "returned",
        }
    }
}

/// How an approver decided a step.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The step is approved.
    Approved,
    /// The step is rejected, and with it the filing or its extension.
    Rejected,
}

/// Something a person does to a filing.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// File a draft.
    Submit,
    /// Approve the current step (of the filing or of its extension).
    Approve,
    /// Reject the current step.
    Reject,
    /// Take back a pending filing.
    Withdraw,
    /// Call off an approved or recorded trip before departure.
    Cancel,
    /// Report departure.
    Depart,
    /// Report return.
    Return,
    /// Ask for a later return date while away.
    Extend,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 8] = [
        Action::Submit,
        Action::Approve,
        Action::Reject,
        Action::Withdraw,
        Action::Cancel,
        Action::Depart,
        Action::Return,
        Action::Extend,
    ];
}

/// Who is acting, relative to the filing.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The cadre who filed it.
    Filer,
    /// The approver of the current step, or their active delegate.
    CurrentApprover,
    /// Anybody else.
    Other,
}

/// Where a filing stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FilingState {
    /// Status.
    pub status: FilingStatus,
    /// The step awaiting a decision (from 1), while pending or while an extension is pending.
    pub current_step: Option<u32>,
    /// Number of steps in the approver chain.
    pub steps: u32,
    /// An extension awaits a decision (only while away).
    pub extension_pending: bool,
}

impl FilingState {
    /// A new draft with a chain of `steps` approvers.
    pub fn draft(steps: u32) -> Self {
        Self {
            status: FilingStatus::Draft,
            current_step: None,
            steps,
            extension_pending: false,
        }
    }
}

/// What a transition needs besides the state and the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Facts {
    /// The requirement of the assessment at submission.
    pub requirement: Option<Requirement>,
    /// The assessment has no errors.
    pub assessment_valid: bool,
    /// A non-blank comment accompanies the decision.
    pub has_comment: bool,
    /// The filing's planned departure day (checked by `depart`).
    pub depart_on: Option<NaiveDate>,
    /// Today, as a local date of the jurisdiction (checked by `depart`).
    pub today: Option<NaiveDate>,
}

/// The first day departure may be reported for a trip planned to leave on
/// `depart_on`: the day before it.
pub fn earliest_departure(depart_on: NaiveDate) -> NaiveDate {
    depart_on.pred_opt().unwrap_or(depart_on)
}

/// Why a transition is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TransitionError {
    /// This action does not exist from this status.
    #[error("cannot {action:?} a filing that is {status:?}")]
    InvalidState {
        /// Current status.
        status: FilingStatus,
        /// The attempted action.
        action: Action,
    },
    /// This actor may not take this action.
    #[error("this actor may not {action:?} the filing")]
    NotPermitted {
        /// The attempted action.
        action: Action,
    },
    /// The assessment has errors, so the draft cannot be filed.
    #[error("the draft has validation errors")]
    AssessmentInvalid,
    /// A rejection needs a comment.
    #[error("a rejection needs a comment")]
    CommentRequired,
    /// Departure reported more than a day before the planned one.
    #[error("departure is planned for {depart_on}; it can be reported from {earliest}")]
    DepartureBeforePlanned {
        /// The planned departure.
        depart_on: NaiveDate,
        /// The first day departure can be reported.
        earliest: NaiveDate,
    },
}

impl TransitionError {
    /// The validation issue a client shows for this refusal, when it is one
    /// the filer can act on by changing the filing.
    pub fn issue(&self) -> Option<Issue> {
        match self {
            TransitionError::DepartureBeforePlanned {
                depart_on,
                earliest,
            } => Some(Issue::new(
                IssueCode::DepartureBeforePlanned,
                Some("depart_on".to_owned()),
                json!({"depart_on": depart_on, "earliest": earliest}),
            )),
            _ => None,
        }
    }
}

/// Who may take an action at all: the filer files and travels; only the current
/// approver decides. The filer never decides their own filing.
pub fn actor_may(action: Action, actor: Actor) -> bool {
    match action {
        Action::Approve | Action::Reject => actor == Actor::CurrentApprover,
        _ => actor == Actor::Filer,
    }
}

/// Applies an action and returns the new state, or why it is refused.
pub fn apply(
    state: FilingState,
    action: Action,
    actor: Actor,
    facts: Facts,
) -> Result<FilingState, TransitionError> {
    use FilingStatus as S;
    let invalid = Err(TransitionError::InvalidState {
        status: state.status,
        action,
    });
    let deciding =
        state.status == S::Pending || (state.status == S::Away && state.extension_pending);
    let valid_from = match action {
        Action::Submit => state.status == S::Draft,
        Action::Approve | Action::Reject => deciding,
        Action::Withdraw => state.status == S::Pending,
        Action::Cancel | Action::Depart => matches!(state.status, S::Approved | S::Recorded),
        Action::Return => state.status == S::Away,
        Action::Extend => state.status == S::Away && !state.extension_pending,
    };
    if !valid_from {
        return invalid;
    }
    if !actor_may(action, actor) {
        return Err(TransitionError::NotPermitted { action });
    }
    if action == Action::Depart
        && let (Some(depart_on), Some(today)) = (facts.depart_on, facts.today)
    {
        let earliest = earliest_departure(depart_on);
        if today < earliest {
            return Err(TransitionError::DepartureBeforePlanned {
                depart_on,
                earliest,
            });
        }
    }
    let next = match action {
        Action::Submit => {
            if !facts.assessment_valid {
                return Err(TransitionError::AssessmentInvalid);
            }
            if facts.requirement == Some(Requirement::Approval) && state.steps > 0 {
                FilingState {
                    status: S::Pending,
                    current_step: Some(1),
                    ..state
                }
            } else {
                FilingState {
                    status: S::Recorded,
                    current_step: None,
                    ..state
                }
            }
        }
        Action::Approve => {
            let step = state.current_step.unwrap_or(1);
            if step < state.steps {
                FilingState {
                    current_step: Some(step + 1),
                    ..state
                }
            } else if state.status == S::Away {
                FilingState {
                    current_step: None,
                    extension_pending: false,
                    ..state
                }
            } else {
                FilingState {
                    status: S::Approved,
                    current_step: None,
                    ..state
                }
            }
        }
        Action::Reject => {
            if !facts.has_comment {
                return Err(TransitionError::CommentRequired);
            }
            if state.status == S::Away {
                FilingState {
                    current_step: None,
                    extension_pending: false,
                    ..state
                }
            } else {
                FilingState {
                    status: S::Rejected,
                    current_step: None,
                    ..state
                }
            }
        }
        Action::Withdraw => FilingState {
            status: S::Withdrawn,
            current_step: None,
            ..state
        },
        Action::Cancel => FilingState {
            status: S::Cancelled,
            ..state
        },
        Action::Depart => FilingState {
            status: S::Away,
            ..state
        },
        Action::Return => FilingState {
            status: S::Returned,
            current_step: None,
            extension_pending: false,
            ..state
        },
        Action::Extend => {
            if state.steps > 0 {
                FilingState {
                    current_step: Some(1),
                    extension_pending: true,
                    ..state
                }
            } else {
                state
            }
        }
    };
    Ok(next)
}

/// The actions this actor may take now (ignoring facts such as comments and dates).
pub fn allowed_actions(state: FilingState, actor: Actor) -> Vec<Action> {
    let facts = Facts {
        requirement: None,
        assessment_valid: true,
        has_comment: true,
        depart_on: None,
        today: None,
    };
    Action::ALL
        .into_iter()
        .filter(|a| apply(state, *a, actor, facts).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(status: FilingStatus, steps: u32) -> FilingState {
        FilingState {
            status,
            current_step: (status == FilingStatus::Pending).then_some(1),
            steps,
            extension_pending: false,
        }
    }

    const OK: Facts = Facts {
        requirement: Some(Requirement::Approval),
        assessment_valid: true,
        has_comment: true,
        depart_on: None,
        today: None,
    };

    #[test]
    fn submit_goes_to_pending_or_recorded_by_requirement() {
        let s = apply(FilingState::draft(2), Action::Submit, Actor::Filer, OK).unwrap();
        assert_eq!((s.status, s.current_step), (FilingStatus::Pending, Some(1)));
        let report = Facts {
            requirement: Some(Requirement::Report),
            ..OK
        };
        let s = apply(FilingState::draft(0), Action::Submit, Actor::Filer, report).unwrap();
        assert_eq!(s.status, FilingStatus::Recorded);
        let bad = Facts {
            assessment_valid: false,
            ..OK
        };
        assert_eq!(
            apply(FilingState::draft(1), Action::Submit, Actor::Filer, bad),
            Err(TransitionError::AssessmentInvalid)
        );
    }

    #[test]
    fn approval_walks_the_chain_then_approves() {
        let s = apply(FilingState::draft(2), Action::Submit, Actor::Filer, OK).unwrap();
        let s = apply(s, Action::Approve, Actor::CurrentApprover, OK).unwrap();
        assert_eq!((s.status, s.current_step), (FilingStatus::Pending, Some(2)));
        let s = apply(s, Action::Approve, Actor::CurrentApprover, OK).unwrap();
        assert_eq!((s.status, s.current_step), (FilingStatus::Approved, None));
    }

    #[test]
    fn only_the_current_approver_decides_and_never_the_filer() {
        let s = state(FilingStatus::Pending, 1);
        for actor in [Actor::Filer, Actor::Other] {
            assert_eq!(
                apply(s, Action::Approve, actor, OK),
                Err(TransitionError::NotPermitted {
                    action: Action::Approve
                })
            );
            assert_eq!(
                apply(s, Action::Reject, actor, OK),
                Err(TransitionError::NotPermitted {
                    action: Action::Reject
                })
            );
        }
        assert_eq!(
            apply(s, Action::Withdraw, Actor::CurrentApprover, OK),
            Err(TransitionError::NotPermitted {
                action: Action::Withdraw
            })
        );
    }

    #[test]
    fn rejection_needs_a_comment() {
        let s = state(FilingStatus::Pending, 1);
        let no_comment = Facts {
            has_comment: false,
            ..OK
        };
        assert_eq!(
            apply(s, Action::Reject, Actor::CurrentApprover, no_comment),
            Err(TransitionError::CommentRequired)
        );
        assert_eq!(
            apply(s, Action::Reject, Actor::CurrentApprover, OK)
                .unwrap()
                .status,
            FilingStatus::Rejected
        );
    }

    #[test]
    fn extension_is_decided_by_the_same_chain_and_keeps_the_filing_away() {
        let away = state(FilingStatus::Away, 2);
        let s = apply(away, Action::Extend, Actor::Filer, OK).unwrap();
        assert!(s.extension_pending);
        assert_eq!(s.current_step, Some(1));
        assert_eq!(
            apply(s, Action::Extend, Actor::Filer, OK),
            Err(TransitionError::InvalidState {
                status: FilingStatus::Away,
                action: Action::Extend
            })
        );
        let s = apply(s, Action::Approve, Actor::CurrentApprover, OK).unwrap();
        let s = apply(s, Action::Approve, Actor::CurrentApprover, OK).unwrap();
        assert_eq!(
            (s.status, s.extension_pending, s.current_step),
            (FilingStatus::Away, false, None)
        );
        let s = apply(away, Action::Extend, Actor::Filer, OK).unwrap();
        let s = apply(s, Action::Reject, Actor::CurrentApprover, OK).unwrap();
        assert_eq!((s.status, s.extension_pending), (FilingStatus::Away, false));
        // A report-only trip's extension needs nobody.
        let s = apply(
            state(FilingStatus::Away, 0),
            Action::Extend,
            Actor::Filer,
            OK,
        )
        .unwrap();
        assert!(!s.extension_pending);
    }

    #[test]
    fn departure_is_reported_from_the_day_before_the_planned_one() {
        let day = |d: &str| d.parse::<NaiveDate>().unwrap();
        let on = |today: &str| Facts {
            depart_on: Some(day("2027-05-01")),
            today: Some(day(today)),
            ..OK
        };
        for status in [FilingStatus::Approved, FilingStatus::Recorded] {
            let s = state(status, 1);
            for today in ["2027-04-30", "2027-05-01", "2027-05-03"] {
                assert_eq!(
                    apply(s, Action::Depart, Actor::Filer, on(today))
                        .unwrap()
                        .status,
                    FilingStatus::Away,
                    "{today}"
                );
            }
            for today in ["2027-04-29", "2027-01-01"] {
                let refused = apply(s, Action::Depart, Actor::Filer, on(today)).unwrap_err();
                assert_eq!(
                    refused,
                    TransitionError::DepartureBeforePlanned {
                        depart_on: day("2027-05-01"),
                        earliest: day("2027-04-30"),
                    }
                );
                let issue = refused.issue().unwrap();
                assert_eq!(issue.code, IssueCode::DepartureBeforePlanned);
                assert_eq!(issue.field.as_deref(), Some("depart_on"));
                assert_eq!(
                    issue.params,
                    json!({"depart_on": "2027-05-01", "earliest": "2027-04-30"})
                );
            }
        }
        // The status and the actor are checked first.
        assert_eq!(
            apply(
                state(FilingStatus::Pending, 1),
                Action::Depart,
                Actor::Filer,
                on("2027-01-01")
            ),
            Err(TransitionError::InvalidState {
                status: FilingStatus::Pending,
                action: Action::Depart
            })
        );
        assert_eq!(
            apply(
                state(FilingStatus::Approved, 1),
                Action::Depart,
                Actor::Other,
                on("2027-01-01")
            ),
            Err(TransitionError::NotPermitted {
                action: Action::Depart
            })
        );
        // Other actions ignore the dates.
        assert!(
            apply(
                state(FilingStatus::Approved, 1),
                Action::Cancel,
                Actor::Filer,
                on("2027-01-01")
            )
            .is_ok()
        );
        assert_eq!(TransitionError::CommentRequired.issue(), None);
    }

    #[test]
    fn the_transition_table_is_exactly_the_documented_one() {
        use FilingStatus as S;
        let expected_filer = |status: S| -> Vec<Action> {
            match status {
                S::Draft => vec![Action::Submit],
                S::Pending => vec![Action::Withdraw],
                S::Approved | S::Recorded => vec![Action::Cancel, Action::Depart],
                S::Away => vec![Action::Return, Action::Extend],
                S::Rejected | S::Withdrawn | S::Cancelled | S::Returned => vec![],
            }
        };
        for status in FilingStatus::ALL {
            let s = state(status, 1);
            assert_eq!(
                allowed_actions(s, Actor::Filer),
                expected_filer(status),
                "{status:?}"
            );
            let approver = if status == S::Pending {
                vec![Action::Approve, Action::Reject]
            } else {
                vec![]
            };
            assert_eq!(
                allowed_actions(s, Actor::CurrentApprover),
                approver,
                "{status:?}"
            );
            assert!(allowed_actions(s, Actor::Other).is_empty());
        }
    }
}
