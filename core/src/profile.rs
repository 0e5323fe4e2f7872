//! The filer's profile: who is travelling, as far as the rules care.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Rank of a cadre, lowest first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rank {
    /// Clerk level and below.
    Clerk,
    /// Section level.
    Section,
    /// Division level.
    Division,
    /// Bureau level and above.
    Bureau,
}

impl Rank {
    /// Every rank, lowest first.
    pub const ALL: [Rank; 4] = [Rank::Clerk, Rank::Section, Rank::Division, Rank::Bureau];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Rank::Clerk => "clerk",
            Rank::Section => "section",
            Rank::Division => "division",
            Rank::Bureau => "bureau",
        }
    }
}

/// Position held in the account's node.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// Staff member without leadership duties.
    Staff,
    /// Head of a department.
    DepartmentHead,
    /// Deputy leader of a unit.
    Deputy,
    /// Principal (head) of a unit.
    Principal,
}

impl Position {
    /// Every position.
    pub const ALL: [Position; 4] = [
        Position::Staff,
        Position::DepartmentHead,
        Position::Deputy,
        Position::Principal,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Position::Staff => "staff",
            Position::DepartmentHead => "department_head",
            Position::Deputy => "deputy",
            Position::Principal => "principal",
        }
    }

    /// Leaders must name a substitute while away.
    pub fn is_leader(self) -> bool {
        matches!(self, Position::Deputy | Position::Principal)
    }
}

/// The account profile that rules select on.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The filer's account.
    pub account_id: Uuid,
    /// The node the account belongs to.
    pub unit_id: Uuid,
    /// Rank.
    pub rank: Rank,
    /// Position.
    pub position: Position,
    /// Party member.
    #[serde(default)]
    pub party_member: bool,
    /// Public official.
    #[serde(default)]
    pub public_official: bool,
    /// Holds a key or classified post.
    #[serde(default)]
    pub key_post: bool,
}
