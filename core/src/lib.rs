//! Whereabouts core: the pure domain logic of whereabouts reporting.
//!
//! Everything here is a function of its arguments: no IO, no database, no web and
//! no clock (callers pass `now`). The server and the phone apps call the very same
//! code, so an assessment computed offline on a phone agrees with the server's.
//!
//! - [`assessment`]: what a trip requires (the heart of the crate).
//! - [`validation`]: validation issues with stable codes and messages.
//! - [`policy`], [`special_period`], [`org`], [`profile`], [`draft`]: the inputs.
//! - [`calendar`] and [`regions`]: embedded reference data.
//! - [`coverage`]: policy completeness.
//! - [`lifecycle`]: the filing state machine, and [`flags`]: its derived flags.

pub mod assessment;
pub mod calendar;
pub mod coverage;
pub mod draft;
pub mod flags;
pub mod lang;
pub mod lifecycle;
pub mod org;
pub mod policy;
pub mod profile;
pub mod reconcile;
pub mod regions;
pub mod snapshot;
pub mod special_period;
pub mod validation;

pub use assessment::{Assessment, AssessmentInput, ResolvedApprover, Settings, assess};
pub use calendar::{Calendar, CalendarDay, CalendarYear, DayKind};
pub use coverage::{CoverageGap, policy_gaps};
pub use draft::{Destination, Purpose, TripDraft, TripKind};
pub use lang::Lang;
pub use lifecycle::{Action, Actor, Decision, FilingState, FilingStatus, TransitionError};
pub use org::{DirectoryAccount, Org, OrgUnit, Role, RoleGrant, UnitDeputy, UnitKind};
pub use policy::{
    ApproverRule, EffectivePolicy, FiledWith, Form, Notice, Period, Policy, Requirement,
    ReturnReport, Rule, Selector,
};
pub use profile::{Position, Profile, Rank};
pub use snapshot::{PolicySnapshot, SnapshotError};
pub use special_period::{DestinationRestriction, RestrictionAction, SpecialPeriod};
pub use validation::{Issue, IssueCode};
