//! The authorization policy: the one place that decides whether a caller may
//! take an action on a target. Handlers name the action and the target; they
//! never compare roles themselves.
//!
//! The rules, as `API.md` ("Authorization") states them:
//! - every permission is a role on a unit subtree; outside the caller's scope
//!   answers 404 (ids cannot be probed), inside it without the right role 403;
//! - acting on an account needs scope over its home unit, over every node it
//!   leads, and a strictly wider scope than every grant it holds; a unit admin
//!   never acts on a system administrator;
//! - no one changes their own standing (403 `self_change_forbidden`);
//! - global resources (the calendar, webhooks over the whole tree) need a
//!   system administrator over the whole tree;
//! - the roster is read by the members of a unit (never above it), by the
//!   leaders of a node, and by admins and inspectors within their scope;
//! - a delegate belongs to the delegator's unit or a node above it;
//! - a discrepancy is read and explained by the person concerned as well as
//!   by reviewers in scope, and decided (confirmed or cleared) only by
//!   reviewers who are not that person.
//!
//! [`Action::roles`] is the table of who holds which action; `api/README.md`
//! prints it, and `tests/policy.rs` calls every privileged route with every
//! kind of caller against it.

use crate::error::{ApiError, ProblemCode};
use crate::extract::Principal;
use crate::store::accounts::{self as store, AccountRow};
use crate::store::targets;
use diesel::{PgConnection, QueryResult};
use uuid::Uuid;
use whereabouts_core::org::unit_in_path;
use whereabouts_core::{Role, UnitKind};

/// What a caller asks to do. Each action is held by a fixed set of roles,
/// always within the scope of the grant ([`Action::roles`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read units, leaders, policies, coverage, accounts, roles and special periods.
    ReadOrganisation,
    /// Create and change units, leaders, policies and special periods; create and import accounts.
    ManageOrganisation,
    /// Change, suspend, reactivate an account or reset its password (an account target).
    ManageAccount,
    /// Replace an account's role grants (an account target).
    GrantRoles,
    /// Read ledgers, filings and discrepancies of others; import evidence; reconcile; assess for others.
    Supervise,
    /// Read one discrepancy and its history (a target rule: also the person concerned).
    ReadDiscrepancy,
    /// Explain a discrepancy for its person (a target rule: also the person concerned).
    ExplainDiscrepancy,
    /// Confirm a discrepancy (a violation) or clear it (the explanation
    /// accepted); never the person concerned.
    DecideDiscrepancy,
    /// Open inspection campaigns, record findings, measures and rectification.
    Inspect,
    /// Register travel documents, check them out and in, read their numbers unmasked.
    KeepDocuments,
    /// Read the filings filed with one's unit as their recipient office.
    ReceiveFilings,
    /// Answer an inspection's findings about one's units: rectification items.
    Rectify,
    /// Register, list and remove webhooks within one's scope.
    ManageWebhooks,
    /// Replace the holiday calendar (global: the whole tree only).
    EditCalendar,
    /// Verify the audit chain.
    VerifyAudit,
    /// Read the access log: entries about one's scope (an inspector's own
    /// entries excepted, see [`access_log_reader`]).
    ReadAccessLog,
}

/// Administrators: system admins and unit admins.
const ADMINS: &[Role] = &[Role::SystemAdmin, Role::UnitAdmin];
/// Readers of administrative data: admins and inspectors.
const READERS: &[Role] = &[Role::SystemAdmin, Role::UnitAdmin, Role::Inspector];
/// Inspection: system admins and inspectors.
const INSPECTORS: &[Role] = &[Role::SystemAdmin, Role::Inspector];
/// System admins only.
const SYSTEM: &[Role] = &[Role::SystemAdmin];

impl Action {
    /// Every action, for the policy's own table test.
    pub const ALL: [Action; 16] = [
        Action::ReadOrganisation,
        Action::ManageOrganisation,
        Action::ManageAccount,
        Action::GrantRoles,
        Action::Supervise,
        Action::ReadDiscrepancy,
        Action::ExplainDiscrepancy,
        Action::DecideDiscrepancy,
        Action::Inspect,
        Action::KeepDocuments,
        Action::ReceiveFilings,
        Action::Rectify,
        Action::ManageWebhooks,
        Action::EditCalendar,
        Action::VerifyAudit,
        Action::ReadAccessLog,
    ];

    /// The roles that hold this action within their scope.
    pub fn roles(self) -> &'static [Role] {
        match self {
            Action::ReadOrganisation
            | Action::Supervise
            | Action::ReadDiscrepancy
            | Action::DecideDiscrepancy => READERS,
            Action::ManageOrganisation
            | Action::ManageAccount
            | Action::KeepDocuments
            | Action::ReceiveFilings
            | Action::Rectify
            | Action::ExplainDiscrepancy => ADMINS,
            Action::Inspect | Action::ReadAccessLog => INSPECTORS,
            Action::GrantRoles
            | Action::ManageWebhooks
            | Action::EditCalendar
            | Action::VerifyAudit => SYSTEM,
        }
    }

    /// Whether only a grant over the whole tree holds this action.
    pub fn is_global(self) -> bool {
        matches!(self, Action::EditCalendar)
    }
}

/// Which access-log entries a caller may read: those about its scope for
/// reading the log (none: the whole tree), and whether its own entries are
/// left out (an inspector's are: who watches reads what the watched did, not
/// their own trail; a system administrator reads everything in scope).
/// 403 `forbidden` to callers holding neither role.
pub fn access_log_reader(who: &Principal) -> Result<(Option<Vec<Uuid>>, bool), ApiError> {
    require(who, Action::ReadAccessLog)?;
    let system = who.grants.iter().any(|g| g.role == Role::SystemAdmin);
    Ok((scope(who, Action::ReadAccessLog).roots(), !system))
}

/// Where a caller may take an action: everywhere, or within these subtrees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The whole tree.
    Tree,
    /// The subtrees under these nodes (possibly none).
    Subtrees(Vec<Uuid>),
}

impl Scope {
    /// The subtree roots, or `None` for the whole tree (as list queries filter).
    pub fn roots(self) -> Option<Vec<Uuid>> {
        match self {
            Scope::Tree => None,
            Scope::Subtrees(roots) => Some(roots),
        }
    }

    /// Whether a node, given its path (its ancestors and itself), lies inside.
    pub fn holds(&self, path: &[Uuid]) -> bool {
        match self {
            Scope::Tree => true,
            Scope::Subtrees(roots) => roots.iter().any(|r| path.contains(r)),
        }
    }
}

/// Where the caller holds `action`.
pub fn scope(who: &Principal, action: Action) -> Scope {
    let mut roots = Vec::new();
    for grant in who
        .grants
        .iter()
        .filter(|g| action.roles().contains(&g.role))
    {
        match grant.unit_id {
            None => return Scope::Tree,
            Some(_) if action.is_global() => {}
            Some(id) => roots.push(id),
        }
    }
    Scope::Subtrees(roots)
}

/// Refuses with 403 unless the caller holds `action` somewhere.
pub fn require(who: &Principal, action: Action) -> Result<(), ApiError> {
    match scope(who, action) {
        Scope::Subtrees(roots) if roots.is_empty() => Err(ApiError::Forbidden),
        _ => Ok(()),
    }
}

/// Whether an account holding `grants` must have enrolled a second factor
/// before it may do anything but `/me`, `/me/mfa/*` and `/auth/*`: it holds
/// one of the `required` roles (`WHEREABOUTS_MFA_REQUIRED_ROLES`) anywhere.
pub fn second_factor_required(grants: &[crate::extract::Grant], required: &[Role]) -> bool {
    grants.iter().any(|grant| required.contains(&grant.role))
}

/// Whether the caller holds `action` over `unit_id` (false for an unknown unit).
pub fn covers(
    conn: &mut PgConnection,
    who: &Principal,
    action: Action,
    unit_id: Uuid,
) -> QueryResult<bool> {
    match scope(who, action) {
        Scope::Tree => targets::unit_exists(conn, unit_id),
        Scope::Subtrees(roots) if roots.is_empty() => Ok(false),
        Scope::Subtrees(roots) => targets::unit_under(conn, unit_id, roots),
    }
}

/// Refuses unless the caller holds `action` over `unit_id`: 403 without the
/// action anywhere, 404 when the unit is unknown or outside the caller's scope.
pub fn authorize(
    conn: &mut PgConnection,
    who: &Principal,
    action: Action,
    unit_id: Uuid,
) -> Result<(), ApiError> {
    require(who, action)?;
    if covers(conn, who, action, unit_id)? {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// Refuses a global action (one with no unit) unless the caller holds it over
/// the whole tree: 403 otherwise.
pub fn authorize_global(who: &Principal, action: Action) -> Result<(), ApiError> {
    match scope(who, action) {
        Scope::Tree => Ok(()),
        Scope::Subtrees(_) => Err(ApiError::Forbidden),
    }
}

/// A grant of a target account: its role and its root with the root's path
/// (`None`: the whole tree).
pub type TargetGrant = (Role, Option<(Uuid, Vec<Uuid>)>);

/// An account as the policy sees it: where it lives, what it holds and what it leads.
#[derive(Debug, Clone)]
pub struct AccountTarget {
    /// The account.
    pub id: Uuid,
    /// Its home node's path (ancestors and itself); empty for an account of no unit.
    pub home: Vec<Uuid>,
    /// Its grants, each with the path of its root (`None`: the whole tree).
    pub grants: Vec<TargetGrant>,
    /// The paths of the nodes it leads as principal or deputy.
    pub leads: Vec<Vec<Uuid>>,
}

impl AccountTarget {
    /// Loads an account's home, grants and leadership; 404 when it does not exist.
    pub fn load(conn: &mut PgConnection, id: Uuid) -> Result<Self, ApiError> {
        let facts = targets::account_facts(conn, id)?;
        let mut target = AccountTarget {
            id,
            home: Vec::new(),
            grants: Vec::new(),
            leads: Vec::new(),
        };
        let mut found = false;
        for fact in facts {
            match fact.fact.as_str() {
                "home" => {
                    found = true;
                    target.home = fact.path;
                }
                "grant" => {
                    let Some(role) = fact.role.and_then(|r| {
                        serde_json::from_value::<Role>(serde_json::Value::String(r)).ok()
                    }) else {
                        continue;
                    };
                    target
                        .grants
                        .push((role, fact.unit_id.map(|unit| (unit, fact.path))));
                }
                _ => target.leads.push(fact.path),
            }
        }
        if found {
            Ok(target)
        } else {
            Err(ApiError::NotFound)
        }
    }

    /// Whether it holds a system administrator grant anywhere.
    pub fn is_system_admin(&self) -> bool {
        self.grants
            .iter()
            .any(|(role, _)| *role == Role::SystemAdmin)
    }
}

/// Whether one of the caller's grants of `roles` is a proper ancestor of the
/// node `unit` (whose path is `path`), or covers the whole tree.
fn strictly_above(who: &Principal, roles: &[Role], unit: Uuid, path: &[Uuid]) -> bool {
    who.grants
        .iter()
        .filter(|g| roles.contains(&g.role))
        .any(|g| match g.unit_id {
            None => true,
            Some(root) => root != unit && path.contains(&root),
        })
}

/// Refuses to let the caller take `action` on an account unless its scope
/// holds the account's home and the nodes it leads, and is strictly wider than
/// every grant it holds (a system administrator's grant only yields to a wider
/// system administrator). 404 when the home is outside the caller's scope,
/// 403 when the account outranks the caller, `self_change_forbidden` on oneself.
pub fn act_on_account(
    who: &Principal,
    action: Action,
    target: &AccountTarget,
) -> Result<(), ApiError> {
    require(who, action)?;
    if target.id == who.account_id {
        return Err(ApiError::Refused(ProblemCode::SelfChangeForbidden));
    }
    // Account management reaches as far as the caller administers accounts;
    // granting roles additionally needs the system administrator's grant,
    // which `require` checked above.
    let reach = scope(who, Action::ManageAccount);
    let home_held = match &reach {
        Scope::Tree => true,
        Scope::Subtrees(_) if target.home.is_empty() => false,
        held => held.holds(&target.home),
    };
    if !home_held {
        return Err(ApiError::NotFound);
    }
    if !target.leads.iter().all(|path| reach.holds(path)) {
        return Err(ApiError::Forbidden);
    }
    let outranked = target.grants.iter().any(|(role, root)| {
        let over: &[Role] = if *role == Role::SystemAdmin {
            SYSTEM
        } else {
            ADMINS
        };
        match root {
            None => true,
            Some((unit, path)) => !strictly_above(who, over, *unit, path),
        }
    });
    if outranked {
        return Err(ApiError::Forbidden);
    }
    Ok(())
}

/// What a change to an account touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange {
    /// Only its name or mobile number: an account may change its own.
    Details,
    /// Its standing: rank, position, unit, employee number, the flags that
    /// select rules, roles or leadership.
    Standing,
}

/// Refuses a change to an account: one's own details are one's own to change,
/// one's own standing never ([`forbid_own_standing`]); anyone else's under
/// [`act_on_account`].
pub fn change_account(
    who: &Principal,
    action: Action,
    target: &AccountTarget,
    change: AccountChange,
) -> Result<(), ApiError> {
    if target.id == who.account_id && change == AccountChange::Details {
        return Ok(());
    }
    act_on_account(who, action, target)
}

/// Refuses a change to the caller's own standing (rank, position, unit, flags
/// that select rules, roles or leadership): someone above must make it.
pub fn forbid_own_standing(who: &Principal, account: Uuid) -> Result<(), ApiError> {
    if account == who.account_id {
        Err(ApiError::Refused(ProblemCode::SelfChangeForbidden))
    } else {
        Ok(())
    }
}

/// The path (ancestors and itself) of an account's *unit*, as core defines it
/// ([`unit_in_path`]): the nearest node of kind `unit` on its home's path, else
/// the jurisdiction. `None` for an account of no unit.
fn own_unit_path(conn: &mut PgConnection, account: Uuid) -> QueryResult<Option<Vec<Uuid>>> {
    // Every node on the account's home path, with its kind and path.
    let mut nodes = targets::home_path_nodes(conn, account)?;
    // Nearest first: the deepest node has the longest path.
    nodes.sort_by_key(|(_, _, path)| std::cmp::Reverse(path.len()));
    let kinds: Vec<(Uuid, UnitKind)> = nodes
        .iter()
        .filter_map(|(id, kind, _)| {
            serde_json::from_value(serde_json::Value::String(kind.clone()))
                .ok()
                .map(|kind| (*id, kind))
        })
        .collect();
    let unit = unit_in_path(&kinds);
    Ok(nodes
        .into_iter()
        .find(|(id, _, _)| Some(*id) == unit)
        .map(|(_, _, path)| path))
}

/// Refuses reading the roster of `unit` unless the caller is a member of the
/// unit that holds it (its own *unit* lies on the node's path: never above
/// it), leads a node above or at it, or holds `Supervise` over it. Everyone
/// else gets 404.
pub fn read_roster(conn: &mut PgConnection, who: &Principal, unit: Uuid) -> Result<(), ApiError> {
    // The node's path, and whether the caller leads it or a node above it.
    let Some(node) = targets::node_led_by(conn, unit, who.account_id)? else {
        return Err(ApiError::NotFound);
    };
    let member = match own_unit_path(conn, who.account_id)? {
        Some(own) => own.last().is_some_and(|own| node.path.contains(own)),
        None => false,
    };
    if member || node.led || covers(conn, who, Action::Supervise, unit)? {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// A discrepancy as the policy sees it: whose it is and where it was found.
#[derive(Debug, Clone)]
pub struct DiscrepancyTarget {
    /// The person concerned.
    pub subject: Uuid,
    /// The path (ancestors and itself) of the node it was found in.
    pub unit_path: Vec<Uuid>,
}

/// Refuses `action` on a discrepancy. The person concerned reads and explains
/// their own, and may never decide it (403 `self_change_forbidden`, even
/// holding a reviewer role over it); anyone else needs the action's role over
/// the discrepancy's node. Someone who cannot read it gets 404; a reviewer
/// who reads it but lacks the action's role, 403.
pub fn act_on_discrepancy(
    who: &Principal,
    action: Action,
    target: &DiscrepancyTarget,
) -> Result<(), ApiError> {
    let own = target.subject == who.account_id;
    match action {
        Action::ReadDiscrepancy | Action::ExplainDiscrepancy if own => return Ok(()),
        Action::DecideDiscrepancy if own => {
            return Err(ApiError::Refused(ProblemCode::SelfChangeForbidden));
        }
        _ => {}
    }
    if scope(who, action).holds(&target.unit_path) {
        Ok(())
    } else if scope(who, Action::ReadDiscrepancy).holds(&target.unit_path) {
        Err(ApiError::Forbidden)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Refuses a delegate who does not belong to the delegator's *unit* (inside
/// it) or to a node above it: 422 `delegate_out_of_unit`.
pub fn delegate_to(
    conn: &mut PgConnection,
    delegator: &Principal,
    delegate: Uuid,
) -> Result<(), ApiError> {
    let own = own_unit_path(conn, delegator.account_id)?;
    let home = targets::home_path(conn, delegate)?;
    let within = match (own, home) {
        (Some(own), Some(home)) => match (own.last(), home.last()) {
            // Inside the delegator's unit, or on its path above.
            (Some(unit), Some(node)) => home.contains(unit) || own.contains(node),
            _ => false,
        },
        _ => false,
    };
    if within {
        Ok(())
    } else {
        Err(ApiError::Unprocessable(
            ProblemCode::DelegateOutOfUnit,
            vec![whereabouts_core::Issue::new(
                whereabouts_core::IssueCode::Invalid,
                Some("delegate_id".to_owned()),
                serde_json::json!({"reason": "out_of_unit"}),
            )],
        ))
    }
}

/// Loads an account the caller may read: readers of its home unit's scope; an
/// account of no unit is only visible over the whole tree.
pub fn readable_account(
    conn: &mut PgConnection,
    who: &Principal,
    id: Uuid,
) -> Result<AccountRow, ApiError> {
    require(who, Action::ReadOrganisation)?;
    let row = store::row(conn, id)?;
    match row.unit_id {
        Some(unit) => authorize(conn, who, Action::ReadOrganisation, unit)?,
        None if scope(who, Action::ReadOrganisation) == Scope::Tree => {}
        None => return Err(ApiError::NotFound),
    }
    Ok(row)
}

/// Loads an account the caller may take `action` on, locked for the change:
/// the policy weighs its home unit, its grants and its leadership.
pub fn managed_account(
    conn: &mut PgConnection,
    who: &Principal,
    action: Action,
    id: Uuid,
) -> Result<AccountRow, ApiError> {
    require(who, action)?;
    let target = AccountTarget::load(conn, id)?;
    act_on_account(who, action, &target)?;
    store::lock(conn, id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Grant;

    fn caller(grants: &[(Role, Option<Uuid>)]) -> Principal {
        Principal {
            account_id: Uuid::from_u128(1),
            session_id: Uuid::from_u128(3),
            unit_id: None,
            grants: grants
                .iter()
                .map(|&(role, unit_id)| Grant { role, unit_id })
                .collect(),
        }
    }

    /// district ⊃ bureau ⊃ office
    const DISTRICT: Uuid = Uuid::from_u128(10);
    const BUREAU: Uuid = Uuid::from_u128(11);
    const OFFICE: Uuid = Uuid::from_u128(12);

    fn account(grants: Vec<TargetGrant>) -> AccountTarget {
        AccountTarget {
            id: Uuid::from_u128(2),
            home: vec![DISTRICT, BUREAU, OFFICE],
            grants,
            leads: Vec::new(),
        }
    }

    #[test]
    fn the_action_table_is_the_contract() {
        for action in Action::ALL {
            let expected: &[Role] = match action {
                Action::ReadOrganisation
                | Action::Supervise
                | Action::ReadDiscrepancy
                | Action::DecideDiscrepancy => {
                    &[Role::SystemAdmin, Role::UnitAdmin, Role::Inspector]
                }
                Action::ManageOrganisation
                | Action::ManageAccount
                | Action::KeepDocuments
                | Action::ReceiveFilings
                | Action::Rectify
                | Action::ExplainDiscrepancy => &[Role::SystemAdmin, Role::UnitAdmin],
                Action::Inspect | Action::ReadAccessLog => &[Role::SystemAdmin, Role::Inspector],
                Action::GrantRoles
                | Action::ManageWebhooks
                | Action::EditCalendar
                | Action::VerifyAudit => &[Role::SystemAdmin],
            };
            assert_eq!(action.roles(), expected, "{action:?}");
        }
    }

    /// Who may read, explain and decide a discrepancy found in the office,
    /// about the caller or about someone else.
    #[test]
    fn a_discrepancy_is_read_and_explained_by_its_person_and_decided_by_others() {
        use Action::ReadDiscrepancy as Read;
        use Action::{DecideDiscrepancy as Decide, ExplainDiscrepancy as Explain};
        let office = vec![DISTRICT, BUREAU, OFFICE];
        let about = |subject: u128| DiscrepancyTarget {
            subject: Uuid::from_u128(subject),
            unit_path: office.clone(),
        };
        // The caller is account 1; account 2 is someone else.
        let (mine, theirs) = (about(1), about(2));
        let code = |r: Result<(), ApiError>| match r {
            Ok(()) => "ok",
            Err(e) => e.code().as_str(),
        };
        let cadre = caller(&[]);
        let unit_admin = caller(&[(Role::UnitAdmin, Some(BUREAU))]);
        let inspector = caller(&[(Role::Inspector, Some(BUREAU))]);
        let sibling_admin = caller(&[(Role::UnitAdmin, Some(Uuid::from_u128(13)))]);
        let root = caller(&[(Role::SystemAdmin, None)]);
        #[rustfmt::skip]
        let table: [(&str, &Principal, &DiscrepancyTarget, [&str; 3]); 10] = [
            //                                              read         explain      decide
            ("cadre, own",          &cadre,         &mine,   ["ok",        "ok",        "self_change_forbidden"]),
            ("cadre, other",        &cadre,         &theirs, ["not_found", "not_found", "not_found"]),
            ("unit admin, own",     &unit_admin,    &mine,   ["ok",        "ok",        "self_change_forbidden"]),
            ("unit admin, other",   &unit_admin,    &theirs, ["ok",        "ok",        "ok"]),
            ("inspector, own",      &inspector,     &mine,   ["ok",        "ok",        "self_change_forbidden"]),
            ("inspector, other",    &inspector,     &theirs, ["ok",        "forbidden", "ok"]),
            ("sibling admin, own",  &sibling_admin, &mine,   ["ok",        "ok",        "self_change_forbidden"]),
            ("sibling admin, other",&sibling_admin, &theirs, ["not_found", "not_found", "not_found"]),
            ("root, own",           &root,          &mine,   ["ok",        "ok",        "self_change_forbidden"]),
            ("root, other",         &root,          &theirs, ["ok",        "ok",        "ok"]),
        ];
        for (name, who, target, want) in table {
            for (action, want) in [Read, Explain, Decide].into_iter().zip(want) {
                let got = act_on_discrepancy(who, action, target);
                assert_eq!(code(got), want, "{name}: {action:?}");
            }
        }
    }

    #[test]
    fn a_global_action_needs_the_whole_tree() {
        let subtree = caller(&[(Role::SystemAdmin, Some(DISTRICT))]);
        assert_eq!(
            scope(&subtree, Action::EditCalendar),
            Scope::Subtrees(vec![])
        );
        assert!(authorize_global(&subtree, Action::EditCalendar).is_err());
        let tree = caller(&[(Role::SystemAdmin, None)]);
        assert!(authorize_global(&tree, Action::EditCalendar).is_ok());
        let unit_admin = caller(&[(Role::UnitAdmin, Some(DISTRICT))]);
        assert!(require(&unit_admin, Action::EditCalendar).is_err());
    }

    #[test]
    fn acting_on_an_account_needs_a_strictly_wider_scope_than_its_grants() {
        let bureau_admin = caller(&[(Role::UnitAdmin, Some(BUREAU))]);
        // A plain member of the office: fine.
        assert!(act_on_account(&bureau_admin, Action::ManageAccount, &account(vec![])).is_ok());
        // A unit admin of the office, strictly below: fine.
        let office_admin = account(vec![(
            Role::UnitAdmin,
            Some((OFFICE, vec![DISTRICT, BUREAU, OFFICE])),
        )]);
        assert!(act_on_account(&bureau_admin, Action::ManageAccount, &office_admin).is_ok());
        // A peer over the same bureau: refused.
        let peer = account(vec![(
            Role::UnitAdmin,
            Some((BUREAU, vec![DISTRICT, BUREAU])),
        )]);
        assert!(matches!(
            act_on_account(&bureau_admin, Action::ManageAccount, &peer),
            Err(ApiError::Forbidden)
        ));
        // An inspector over the district: reaches outside, refused.
        let inspector = account(vec![(Role::Inspector, Some((DISTRICT, vec![DISTRICT])))]);
        assert!(act_on_account(&bureau_admin, Action::ManageAccount, &inspector).is_err());
        // A system administrator, even of the office: a unit admin never acts on one.
        let sysadmin = account(vec![(
            Role::SystemAdmin,
            Some((OFFICE, vec![DISTRICT, BUREAU, OFFICE])),
        )]);
        assert!(act_on_account(&bureau_admin, Action::ManageAccount, &sysadmin).is_err());
        let district_sysadmin = caller(&[(Role::SystemAdmin, Some(DISTRICT))]);
        assert!(act_on_account(&district_sysadmin, Action::ManageAccount, &sysadmin).is_ok());
        // A system administrator over the whole tree: no one is wider.
        let root = account(vec![(Role::SystemAdmin, None)]);
        let tree = caller(&[(Role::SystemAdmin, None)]);
        assert!(act_on_account(&tree, Action::ManageAccount, &root).is_err());
        // Leading a node outside the caller's scope: refused.
        let mut leader = account(vec![]);
        leader.leads.push(vec![DISTRICT]);
        assert!(act_on_account(&bureau_admin, Action::ManageAccount, &leader).is_err());
        // Oneself: refused with its own code.
        let mut own = account(vec![]);
        own.id = bureau_admin.account_id;
        assert!(matches!(
            act_on_account(&bureau_admin, Action::ManageAccount, &own),
            Err(ApiError::Refused(ProblemCode::SelfChangeForbidden))
        ));
    }
}
