//! A snapshot of the unit tree: nodes, leaders, role holders and the accounts
//! that approver rules may resolve to.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

/// Kind of a node in the unit tree.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// A district or city.
    Jurisdiction,
    /// An organ, state-owned enterprise or public institution.
    Unit,
    /// A second-level unit.
    Subunit,
    /// A department.
    Department,
}

impl UnitKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Jurisdiction => "jurisdiction",
            UnitKind::Unit => "unit",
            UnitKind::Subunit => "subunit",
            UnitKind::Department => "department",
        }
    }
}

/// A role grant kind, always scoped to a unit subtree.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Personnel or party office of a unit subtree.
    UnitAdmin,
    /// Discipline inspection over a unit subtree.
    Inspector,
    /// Administers the whole system below the node.
    SystemAdmin,
}

impl Role {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::UnitAdmin => "unit_admin",
            Role::Inspector => "inspector",
            Role::SystemAdmin => "system_admin",
        }
    }
}

/// The *unit* of a node, given the node and its ancestors nearest first: the
/// nearest of kind `unit`, or of kind `jurisdiction` if there is none. Approver
/// rules resolve against it, and the server's roster and delegation rules
/// use it too.
pub fn unit_in_path(path: &[(Uuid, UnitKind)]) -> Option<Uuid> {
    path.iter()
        .find(|(_, kind)| *kind == UnitKind::Unit)
        .or_else(|| {
            path.iter()
                .find(|(_, kind)| *kind == UnitKind::Jurisdiction)
        })
        .map(|(id, _)| *id)
}

/// A deputy of a node and the nodes they are in charge of.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitDeputy {
    /// The deputy's account.
    pub account_id: Uuid,
    /// Nodes this deputy is in charge of.
    #[serde(default)]
    pub in_charge_of: Vec<Uuid>,
}

/// One node of the unit tree with its leadership.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgUnit {
    /// Node id.
    pub id: Uuid,
    /// Kind of node.
    pub kind: UnitKind,
    /// Parent node, `None` at the root.
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    /// Name, for display.
    #[serde(default)]
    pub name: String,
    /// The head of the node.
    #[serde(default)]
    pub principal_id: Option<Uuid>,
    /// Deputies, in order.
    #[serde(default)]
    pub deputies: Vec<UnitDeputy>,
}

/// An account an approver rule may resolve to.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryAccount {
    /// Account id.
    pub id: Uuid,
    /// Name shown to the filer.
    pub display_name: String,
    /// Suspended accounts are treated as vacant posts.
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// A role grant on a node.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleGrant {
    /// Holder of the grant.
    pub account_id: Uuid,
    /// The role.
    pub role: Role,
    /// The node (subtree root) the grant is on.
    pub unit_id: Uuid,
}

/// The part of the unit tree an assessment needs: at least the filer's node and
/// all its ancestors, plus every account and role grant approver rules refer to.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    /// Nodes, in any order.
    #[serde(default)]
    pub units: Vec<OrgUnit>,
    /// Accounts that may be approvers.
    #[serde(default)]
    pub accounts: Vec<DirectoryAccount>,
    /// Role grants that `role` approver rules may resolve to.
    #[serde(default)]
    pub role_grants: Vec<RoleGrant>,
}

/// Fast lookups over an [`Org`].
pub(crate) struct OrgIndex<'a> {
    units: HashMap<Uuid, &'a OrgUnit>,
    accounts: HashMap<Uuid, &'a DirectoryAccount>,
    org: &'a Org,
}

impl<'a> OrgIndex<'a> {
    pub(crate) fn new(org: &'a Org) -> Self {
        Self {
            units: org.units.iter().map(|u| (u.id, u)).collect(),
            accounts: org.accounts.iter().map(|a| (a.id, a)).collect(),
            org,
        }
    }

    pub(crate) fn unit(&self, id: Uuid) -> Option<&'a OrgUnit> {
        self.units.get(&id).copied()
    }

    /// The active account with this id, if it is known.
    pub(crate) fn active_account(&self, id: Uuid) -> Option<&'a DirectoryAccount> {
        self.accounts.get(&id).copied().filter(|a| a.active)
    }

    /// The node and its ancestors, nearest first. Stops at a missing node or a cycle.
    pub(crate) fn path_up(&self, id: Uuid) -> Vec<&'a OrgUnit> {
        let mut path = Vec::new();
        let mut next = Some(id);
        while let Some(current) = next {
            let Some(unit) = self.unit(current) else {
                break;
            };
            if path.iter().any(|u: &&OrgUnit| u.id == unit.id) {
                break;
            }
            path.push(unit);
            next = unit.parent_id;
        }
        path
    }

    /// The filer's *unit*: the nearest node (itself or above) of kind `unit`, or of
    /// kind `jurisdiction` if there is none ([`unit_in_path`]).
    pub(crate) fn unit_of(&self, node: Uuid) -> Option<&'a OrgUnit> {
        let path: Vec<(Uuid, UnitKind)> =
            self.path_up(node).iter().map(|u| (u.id, u.kind)).collect();
        unit_in_path(&path).and_then(|id| self.unit(id))
    }

    /// The next node above `unit` of kind `unit` or `jurisdiction`.
    pub(crate) fn superior_of(&self, unit: &OrgUnit) -> Option<&'a OrgUnit> {
        let parent = unit.parent_id?;
        self.path_up(parent)
            .into_iter()
            .find(|u| matches!(u.kind, UnitKind::Unit | UnitKind::Jurisdiction))
    }

    /// The deputy of `leader_node` in charge of `start` or its nearest ancestor that any
    /// deputy of `leader_node` is in charge of, walking up to `leader_node` itself.
    pub(crate) fn deputy_in_charge(&self, leader_node: &OrgUnit, start: Uuid) -> Option<Uuid> {
        for node in self.path_up(start) {
            if let Some(deputy) = leader_node
                .deputies
                .iter()
                .find(|d| d.in_charge_of.contains(&node.id))
            {
                return Some(deputy.account_id);
            }
            if node.id == leader_node.id {
                break;
            }
        }
        None
    }

    /// Whether `node` is `ancestor` or lies below it.
    pub(crate) fn is_within(&self, node: Uuid, ancestor: Uuid) -> bool {
        self.path_up(node).iter().any(|u| u.id == ancestor)
    }

    /// Active holders of `role` granted on `unit_id`, in a stable order.
    pub(crate) fn role_holders(&self, role: Role, unit_id: Uuid) -> Vec<&'a DirectoryAccount> {
        let mut holders: Vec<&DirectoryAccount> = self
            .org
            .role_grants
            .iter()
            .filter(|g| g.role == role && g.unit_id == unit_id)
            .filter_map(|g| self.active_account(g.account_id))
            .collect();
        holders.sort_by(|a, b| a.display_name.cmp(&b.display_name).then(a.id.cmp(&b.id)));
        holders.dedup_by_key(|a| a.id);
        holders
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nodes_unit_is_the_nearest_unit_else_the_jurisdiction() {
        let (office, bureau, district) =
            (Uuid::from_u128(3), Uuid::from_u128(2), Uuid::from_u128(1));
        let path = [
            (office, UnitKind::Department),
            (bureau, UnitKind::Unit),
            (district, UnitKind::Jurisdiction),
        ];
        assert_eq!(unit_in_path(&path), Some(bureau));
        assert_eq!(unit_in_path(&path[2..]), Some(district));
        let sub = Uuid::from_u128(4);
        assert_eq!(
            unit_in_path(&[(sub, UnitKind::Subunit), (district, UnitKind::Jurisdiction)]),
            Some(district)
        );
        assert_eq!(unit_in_path(&[(office, UnitKind::Department)]), None);
    }
}
