//! The calendar years administrators saved, which replace the shipped ones:
//! reading them, and saving one.

use crate::error::ApiError;
use crate::schema::{calendar_days, calendar_years};
use chrono::NaiveDate;
use diesel::prelude::*;
use whereabouts_core::Calendar;
use whereabouts_core::calendar::{CalendarDay, CalendarYear, DayKind};

/// Every year replaced by administrators.
pub fn custom_years(conn: &mut PgConnection) -> Result<Calendar, ApiError> {
    let years: Vec<i32> = calendar_years::table
        .select(calendar_years::year)
        .order(calendar_years::year)
        .load(conn)?;
    let days: Vec<(NaiveDate, i32, String, String)> = calendar_days::table
        .order(calendar_days::date)
        .select((
            calendar_days::date,
            calendar_days::year,
            calendar_days::kind,
            calendar_days::name,
        ))
        .load(conn)?;
    let years = years
        .into_iter()
        .map(|year| CalendarYear {
            year,
            days: days
                .iter()
                .filter(|d| d.1 == year)
                .map(|(date, _, kind, name)| CalendarDay {
                    date: *date,
                    kind: if kind == "holiday" {
                        DayKind::Holiday
                    } else {
                        DayKind::Workday
                    },
                    name: name.clone(),
                })
                .collect(),
        })
        .collect();
    Ok(Calendar { years })
}

/// The days an administrator saved for `year`, if they replaced it.
pub fn custom_year(
    conn: &mut PgConnection,
    year: i32,
) -> Result<Option<Vec<CalendarDay>>, ApiError> {
    Ok(custom_years(conn)?
        .years
        .into_iter()
        .find(|y| y.year == year)
        .map(|y| y.days))
}

/// Replaces every entry of `year` with `days`, the year stamped as updated.
pub fn replace_year(
    conn: &mut PgConnection,
    year: i32,
    days: &[CalendarDay],
) -> Result<(), ApiError> {
    diesel::insert_into(calendar_years::table)
        .values(calendar_years::year.eq(year))
        .on_conflict(calendar_years::year)
        .do_update()
        .set(calendar_years::updated_at.eq(diesel::dsl::now))
        .execute(conn)?;
    diesel::delete(calendar_days::table.filter(calendar_days::year.eq(year))).execute(conn)?;
    for day in days {
        diesel::insert_into(calendar_days::table)
            .values((
                calendar_days::date.eq(day.date),
                calendar_days::year.eq(year),
                calendar_days::kind.eq(if day.kind == DayKind::Holiday {
                    "holiday"
                } else {
                    "workday"
                }),
                calendar_days::name.eq(day.name.trim()),
            ))
            .execute(conn)?;
    }
    Ok(())
}
