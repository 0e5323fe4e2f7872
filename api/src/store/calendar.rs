//! The calendar years administrators saved, which replace the shipped ones.

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
