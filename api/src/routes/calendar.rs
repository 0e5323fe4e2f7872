//! The calendar: public holidays and adjusted working days per year. The core
//! ships the known years; a year saved here replaces the shipped one.

use crate::error::ApiError;
use crate::extract::{AppState, Json, Principal};
use crate::policy::{self, Action};
use crate::store::calendar as store;
use actix_web::web;
use chrono::Datelike;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use whereabouts_core::calendar::{self, CalendarDay};
use whereabouts_core::{Issue, IssueCode};

/// Where a year's entries come from.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CalendarSource {
    /// The State Council notices the core ships.
    Shipped,
    /// Saved by an administrator.
    Custom,
    /// Neither: weekends off, weekdays worked.
    None,
}

/// A year of the calendar.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CalendarYearBody {
    /// The year.
    pub year: i32,
    /// Where the entries come from.
    pub source: CalendarSource,
    /// Holidays and adjusted working days, by date.
    pub days: Vec<CalendarDay>,
}

/// A year's entries to save.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PutCalendarYear {
    /// Every holiday and adjusted working day of the year.
    pub days: Vec<CalendarDay>,
}

/// A year as answered: the days saved for it (`custom`), if any, else the
/// shipped ones.
fn year_body(year: i32, custom: Option<Vec<CalendarDay>>) -> CalendarYearBody {
    match custom {
        Some(days) => CalendarYearBody {
            year,
            source: CalendarSource::Custom,
            days,
        },
        None if calendar::shipped_years().contains(&year) => CalendarYearBody {
            year,
            source: CalendarSource::Shipped,
            days: calendar::shipped_year(year).days,
        },
        None => CalendarYearBody {
            year,
            source: CalendarSource::None,
            days: vec![],
        },
    }
}

fn check_year(year: i32) -> Result<(), ApiError> {
    let first = crate::input::EARLIEST_DATE.year();
    let last = crate::input::LATEST_DATE.year();
    if (first..=last).contains(&year) {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// Read a year of the holiday calendar
///
/// Any signed-in account. Answers the year's public holidays and adjusted
/// working days (weekend days worked to make up for a holiday), and where
/// they come from: `custom` (saved with `setCalendarYear`), `shipped` (the
/// State Council notices built into the server) or `none` (no entries:
/// weekends off, weekdays worked). Notice periods counted in working days,
/// and the `holiday` period of a trip, follow these entries. A year outside
/// 1900..2100 answers 404 `not_found`.
#[utoipa::path(get, path = "/api/v1/calendar/{year}", operation_id = "getCalendarYear", tag = "calendar", params(("year" = i32, Path)),
    responses((status = 200, body = CalendarYearBody, description = "The year's entries and where they come from"), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    _who: Principal,
    year: web::Path<i32>,
) -> Result<web::Json<CalendarYearBody>, ApiError> {
    let year = year.into_inner();
    check_year(year)?;
    Ok(web::Json(
        state
            .db
            .run(move |conn| Ok(year_body(year, store::custom_year(conn, year)?)))
            .await?,
    ))
}

/// Replace a year of the holiday calendar
///
/// System administrators with a grant over the whole tree only: the calendar
/// is global (403 `forbidden` to everyone else, system administrators of a
/// subtree included). Replaces every entry of the year, those the server
/// ships included, with `days`: each a `date` of that year, its `kind`
/// (`holiday`, or `workday` for a weekend day worked) and an optional holiday
/// `name`. Assessments from then on count notice periods and holidays with
/// these entries; filings already filed keep theirs. 422 `validation_failed`
/// for a date outside the year or given twice; a year outside 1900..2100
/// answers 404 `not_found`. Answers the year as now stored.
#[utoipa::path(put, path = "/api/v1/calendar/{year}", operation_id = "setCalendarYear", tag = "calendar", params(("year" = i32, Path)),
    request_body(content = PutCalendarYear, example = json!({
        "days": [
            {"date": "2027-01-01", "kind": "holiday", "name": "元旦"},
            {"date": "2027-09-26", "kind": "workday", "name": "国庆节"},
            {"date": "2027-10-01", "kind": "holiday", "name": "国庆节"},
            {"date": "2027-10-02", "kind": "holiday", "name": "国庆节"},
            {"date": "2027-10-03", "kind": "holiday", "name": "国庆节"},
            {"date": "2027-10-04", "kind": "holiday", "name": "国庆节"},
            {"date": "2027-10-05", "kind": "holiday", "name": "国庆节"},
            {"date": "2027-10-06", "kind": "holiday", "name": "国庆节"},
            {"date": "2027-10-07", "kind": "holiday", "name": "国庆节"},
            {"date": "2027-10-09", "kind": "workday", "name": "国庆节"}
        ]
    })),
    responses((status = 200, body = CalendarYearBody, description = "The year as now stored"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn put(
    state: web::Data<AppState>,
    who: Principal,
    year: web::Path<i32>,
    body: Json<PutCalendarYear>,
) -> Result<web::Json<CalendarYearBody>, ApiError> {
    let year = year.into_inner();
    check_year(year)?;
    policy::require(&who, Action::EditCalendar)?;
    let days = body.0.days;
    crate::input::dates_in_range(
        days.iter()
            .enumerate()
            .map(|(i, day)| (format!("days[{i}].date"), Some(day.date))),
    )?;
    let mut issues = Vec::new();
    for (i, day) in days.iter().enumerate() {
        if day.date.year() != year {
            issues.push(Issue::new(
                IssueCode::OutOfRange,
                Some(format!("days[{i}].date")),
                json!({"min": format!("{year}-01-01"), "max": format!("{year}-12-31")}),
            ));
        }
        if days[..i].iter().any(|d| d.date == day.date) {
            issues.push(Issue::new(
                IssueCode::Invalid,
                Some(format!("days[{i}].date")),
                json!({"reason": "duplicate"}),
            ));
        }
        // The name is optional; one that is given needs something to see.
        if !day.name.is_empty()
            && let Some(issue) =
                crate::input::name_issue(&format!("days[{i}].name"), &day.name, 100)
        {
            issues.push(issue);
        }
    }
    if !issues.is_empty() {
        return Err(ApiError::Validation(issues));
    }
    let saved = state
        .db
        .transaction(None, move |tx| {
            let conn = &mut *tx.conn;
            store::replace_year(conn, year, &days)?;
            let saved = year_body(year, store::custom_year(conn, year)?);
            tx.audit.record(
                Some(who.account_id),
                "calendar",
                None,
                "replace_year",
                crate::audit::state(&saved),
            );
            Ok(saved)
        })
        .await?;
    Ok(web::Json(saved))
}
