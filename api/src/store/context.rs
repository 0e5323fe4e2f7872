//! A filer's context: everything the core needs about a filer to assess their
//! trips, loaded from the database.

use crate::error::{ApiError, ProblemCode};
use crate::extract::AppState;
use crate::schema::{accounts, context_version, role_grants, units};
use crate::store::calendar::custom_years;
use crate::store::enums::parse_enum;
use crate::store::policies::effective;
use crate::store::special_periods::in_scope_of;
use crate::store::units::{UnitRow, load_deputies};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use utoipa::ToSchema;
use uuid::Uuid;
use whereabouts_core::{
    ApproverRule, AssessmentInput, Calendar, DirectoryAccount, EffectivePolicy, Lang, Org, OrgUnit,
    Profile, Role, RoleGrant, SpecialPeriod, TripDraft,
};

/// Everything the core needs about a filer, loaded from the database.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FilerContext {
    /// The filer's profile.
    pub profile: Profile,
    /// The filer's ancestors with their leaders, and every approver the policy may name.
    pub org: Org,
    /// The effective policy.
    pub policy: Option<EffectivePolicy>,
    /// Special periods over the filer's node and its ancestors.
    pub special_periods: Vec<SpecialPeriod>,
    /// Calendar years replaced by administrators.
    pub calendar: Calendar,
}

impl FilerContext {
    /// The core's input for a draft at a time.
    pub fn input(self, state: &AppState, draft: TripDraft, lang: Lang) -> AssessmentInput {
        AssessmentInput {
            now: state
                .config
                .now()
                .with_timezone(&state.config.time_zone)
                .fixed_offset(),
            settings: state.config.settings(),
            lang,
            profile: self.profile,
            org: self.org,
            policy: self.policy,
            special_periods: self.special_periods,
            calendar: self.calendar,
            draft,
        }
    }
}

#[derive(Queryable)]
struct ProfileRow {
    unit_id: Option<Uuid>,
    rank: String,
    position: String,
    party_member: bool,
    public_official: bool,
    key_post: bool,
}

/// A filer's context with the path of the filer's node, from the root down.
#[derive(Debug)]
pub struct Filer {
    /// The filer's node and its ancestors, from the root down.
    pub path: Vec<Uuid>,
    /// What the core needs.
    pub context: FilerContext,
}

/// Filers' contexts as one server keeps them, each with the
/// [`context_version`](crate::schema::context_version) it was read at. Every
/// change to what a context is read from counts that version up, whichever
/// server makes it; reading it first tells whether a kept context is still
/// true, so a change through one server rules the next request to any other.
#[derive(Debug, Default)]
pub struct Contexts {
    kept: Mutex<HashMap<Uuid, (i64, Arc<Filer>)>>,
}

/// Contexts kept at most; beyond this the cache starts over.
const KEPT: usize = 20_000;

impl Contexts {
    /// The context of a filer: the kept one while the version stands, else
    /// read anew and kept. One statement when kept.
    pub fn of(&self, conn: &mut PgConnection, account_id: Uuid) -> Result<Arc<Filer>, ApiError> {
        // Read before the context: a change committed in between makes the
        // context newer than its version, and the next request reads it again.
        let version: i64 = context_version::table
            .select(context_version::n)
            .first(conn)?;
        if let Some((at, filer)) = self.lock().get(&account_id)
            && *at == version
        {
            return Ok(filer.clone());
        }
        let filer = Arc::new(load(conn, account_id)?);
        let mut kept = self.lock();
        if kept.len() >= KEPT {
            kept.clear();
        }
        kept.insert(account_id, (version, filer.clone()));
        Ok(filer)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, (i64, Arc<Filer>)>> {
        // A panic while holding the lock leaves a map that is still whole.
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Reads a filer's context. An account of no unit cannot file (409).
fn load(conn: &mut PgConnection, account_id: Uuid) -> Result<Filer, ApiError> {
    let row: ProfileRow = accounts::table
        .find(account_id)
        .select((
            accounts::unit_id,
            accounts::rank,
            accounts::position,
            accounts::party_member,
            accounts::public_official,
            accounts::key_post,
        ))
        .first(conn)?;
    let unit_id = row
        .unit_id
        .ok_or(ApiError::Conflict(ProblemCode::AccountHasNoUnit))?;
    let profile = Profile {
        account_id,
        unit_id,
        rank: parse_enum(&row.rank)?,
        position: parse_enum(&row.position)?,
        party_member: row.party_member,
        public_official: row.public_official,
        key_post: row.key_post,
    };
    let path: Vec<Uuid> = units::table.find(unit_id).select(units::path).first(conn)?;
    let policy = effective(conn, unit_id)?;
    let special_periods = in_scope_of(conn, &path)?;

    let rows: Vec<UnitRow> = units::table
        .filter(units::id.eq_any(&path))
        .select(UnitRow::as_select())
        .load(conn)?;
    let deputies = load_deputies(conn, &path)?;
    let mut wanted: BTreeSet<Uuid> = BTreeSet::new();
    let mut org_units = Vec::new();
    for row in rows {
        wanted.extend(row.principal_id);
        let unit_deputies: Vec<_> = deputies
            .iter()
            .filter(|(u, _)| *u == row.id)
            .map(|(_, d)| d.clone())
            .collect();
        wanted.extend(unit_deputies.iter().map(|d| d.account_id));
        org_units.push(OrgUnit {
            id: row.id,
            kind: parse_enum(&row.kind)?,
            parent_id: row.parent_id,
            name: row.name,
            principal_id: row.principal_id,
            deputies: unit_deputies,
        });
    }
    let approver_rules = policy
        .iter()
        .flat_map(|p| p.policy.rules.iter().flat_map(|r| r.approvers.iter()))
        .chain(special_periods.iter().flat_map(|sp| sp.approvers.iter()));
    let mut role_targets: BTreeSet<(&'static str, Uuid)> = BTreeSet::new();
    for rule in approver_rules {
        match rule {
            ApproverRule::Account { account_id } => {
                wanted.insert(*account_id);
            }
            ApproverRule::Role { role, unit_id } => {
                role_targets.insert((role.as_str(), *unit_id));
            }
            _ => {}
        }
    }
    let mut grants = Vec::new();
    for (role, unit) in role_targets {
        let holders: Vec<Uuid> = role_grants::table
            .filter(role_grants::role.eq(role))
            .filter(role_grants::unit_id.eq(unit))
            .select(role_grants::account_id)
            .load(conn)?;
        for holder in holders {
            wanted.insert(holder);
            grants.push(RoleGrant {
                account_id: holder,
                role: parse_enum::<Role>(role)?,
                unit_id: unit,
            });
        }
    }
    let accounts: Vec<(Uuid, String, String)> = accounts::table
        .filter(accounts::id.eq_any(wanted.iter().copied().collect::<Vec<_>>()))
        .select((accounts::id, accounts::display_name, accounts::status))
        .load(conn)?;
    let org = Org {
        units: org_units,
        accounts: accounts
            .into_iter()
            .map(|(id, display_name, status)| DirectoryAccount {
                id,
                display_name,
                active: status == "active",
            })
            .collect(),
        role_grants: grants,
    };
    Ok(Filer {
        path,
        context: FilerContext {
            profile,
            org,
            policy,
            special_periods,
            calendar: custom_years(conn)?,
        },
    })
}
