//! Who is away: the filings of a subtree that cover a day, and the names of their filers.

use crate::error::ApiError;
use crate::schema::{accounts, filings, units};
use chrono::NaiveDate;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Date};
use std::collections::HashMap;
use uuid::Uuid;

/// A filing whose trip covers the day: its id, filer, node, status, dates
/// and draft.
#[derive(Queryable)]
pub struct Away {
    /// The filing.
    pub filing_id: Uuid,
    /// The filer.
    pub account_id: Uuid,
    /// The filer's node.
    pub unit_id: Uuid,
    /// The filing's status, as stored.
    pub status: String,
    /// Planned departure.
    pub depart_on: NaiveDate,
    /// Planned return.
    pub return_on: NaiveDate,
    /// The trip as filed, as stored.
    pub draft: serde_json::Value,
}

/// The filings of the node `unit` and every node below it whose trip covers
/// the day `on` (`pending`, `approved`, `recorded`, `away` or `returned`,
/// with `depart_on`..`return_on` holding the day), and those still `away`
/// past their planned return.
pub fn away_on(conn: &mut PgConnection, unit: Uuid, on: NaiveDate) -> Result<Vec<Away>, ApiError> {
    // The nodes of the subtree, then the trips of their members over the day
    // (by the index over node and trip days; the status list is spelled out
    // so the index's predicate matches) and people still away past their
    // planned return (overdue).
    let subtree: Vec<Uuid> = units::table
        .filter(units::path.contains(vec![unit]))
        .select(units::id)
        .load(conn)?;
    Ok(filings::table
        .filter(filings::unit_id.eq_any(&subtree))
        .filter(
            sql::<Bool>(
                "((filings.status IN ('pending', 'approved', 'recorded', 'away', 'returned') \
                 AND daterange(filings.depart_on, filings.return_on, '[]') @> ",
            )
            .bind::<Date, _>(on)
            .sql(") OR (filings.status = 'away' AND filings.depart_on <= ")
            .bind::<Date, _>(on)
            .sql("))"),
        )
        .select((
            filings::id,
            filings::account_id,
            filings::unit_id,
            filings::status,
            filings::depart_on.assume_not_null(),
            filings::return_on.assume_not_null(),
            filings::draft,
        ))
        .load(conn)?)
}

/// The names of `people` (filers and substitutes), by primary key.
pub fn names(conn: &mut PgConnection, people: &[Uuid]) -> Result<HashMap<Uuid, String>, ApiError> {
    Ok(accounts::table
        .filter(accounts::id.eq_any(people))
        .select((accounts::id, accounts::display_name))
        .load::<(Uuid, String)>(conn)?
        .into_iter()
        .collect())
}
