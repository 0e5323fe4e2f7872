//! Public holidays and adjusted working days.
//!
//! China moves weekend working days around holidays every year. The core ships
//! the State Council's notices for the years in `data/holidays.json`; admins can
//! replace a year (or add a new one) and pass the replacement in [`Calendar`].

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::LazyLock;

/// What a calendar entry makes of a day.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// A public holiday: not a working day.
    Holiday,
    /// A working day, also when it falls on a weekend.
    Workday,
}

/// One calendar entry.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarDay {
    /// The date.
    pub date: NaiveDate,
    /// Holiday or worked.
    pub kind: DayKind,
    /// Name of the holiday it belongs to.
    #[serde(default)]
    pub name: String,
}

/// A whole year's entries, replacing whatever the core ships for that year.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarYear {
    /// The year.
    pub year: i32,
    /// Its entries.
    #[serde(default)]
    pub days: Vec<CalendarDay>,
}

#[derive(Debug, Deserialize)]
struct ShippedDay {
    date: NaiveDate,
    kind: DayKind,
    name_en: String,
    name_zh: String,
}

#[derive(Debug, Default, Deserialize)]
struct ShippedCalendar {
    source: String,
    version: String,
    years: Vec<i32>,
    days: Vec<ShippedDay>,
}

static SHIPPED: LazyLock<ShippedCalendar> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../data/holidays.json")).unwrap_or_default()
});

static SHIPPED_BY_DATE: LazyLock<HashMap<NaiveDate, &'static ShippedDay>> =
    LazyLock::new(|| SHIPPED.days.iter().map(|d| (d.date, d)).collect());

/// The years whose holidays the core ships.
pub fn shipped_years() -> &'static [i32] {
    &SHIPPED.years
}

/// Where the shipped holiday table comes from, and its version.
pub fn shipped_source() -> (&'static str, &'static str) {
    (&SHIPPED.source, &SHIPPED.version)
}

/// The entries the core ships for a year, with names in zh-CN.
pub fn shipped_year(year: i32) -> CalendarYear {
    CalendarYear {
        year,
        days: SHIPPED
            .days
            .iter()
            .filter(|d| d.date.year() == year)
            .map(|d| CalendarDay {
                date: d.date,
                kind: d.kind,
                name: d.name_zh.clone(),
            })
            .collect(),
    }
}

/// The English name of a shipped holiday entry, if there is one.
pub fn shipped_name_en(date: NaiveDate) -> Option<&'static str> {
    SHIPPED_BY_DATE.get(&date).map(|d| d.name_en.as_str())
}

/// The calendar used for an assessment: the shipped years, with any year listed
/// in `years` replacing the shipped one entirely.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    /// Replaced or added years.
    #[serde(default)]
    pub years: Vec<CalendarYear>,
}

impl Calendar {
    /// The entry for a date, if any.
    pub fn entry(&self, date: NaiveDate) -> Option<DayKind> {
        if let Some(year) = self.years.iter().find(|y| y.year == date.year()) {
            return year.days.iter().find(|d| d.date == date).map(|d| d.kind);
        }
        SHIPPED_BY_DATE.get(&date).map(|d| d.kind)
    }

    /// Whether the calendar marks the day a public holiday (a plain weekend is not).
    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.entry(date) == Some(DayKind::Holiday)
    }

    /// Whether the day is worked: weekdays unless a holiday, weekends only when
    /// marked as adjusted working days.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.entry(date) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::Workday) => true,
            None => !matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
        }
    }

    /// The `n`-th working day strictly before `date` (`n` ≥ 1).
    pub fn nth_working_day_before(&self, date: NaiveDate, n: u32) -> NaiveDate {
        let mut day = date;
        let mut counted = 0;
        // A year and a half of days holds far more than the 60 working days a
        // notice may ask for; the bound only guards against a calendar with no
        // working days at all.
        for _ in 0..600 {
            let Some(previous) = day.pred_opt() else {
                break;
            };
            day = previous;
            if self.is_working_day(day) {
                counted += 1;
                if counted >= n {
                    return day;
                }
            }
        }
        day
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn shipped_years_cover_2020_to_2026() {
        for year in 2020..=2026 {
            assert!(shipped_years().contains(&year), "{year} missing");
            assert!(!shipped_year(year).days.is_empty());
        }
        let (source, version) = shipped_source();
        assert!(!source.is_empty() && !version.is_empty());
    }

    #[test]
    fn may_day_2020_matches_the_state_council_notice() {
        let cal = Calendar::default();
        for day in [
            "2020-05-01",
            "2020-05-02",
            "2020-05-03",
            "2020-05-04",
            "2020-05-05",
        ] {
            assert!(cal.is_holiday(d(day)), "{day} should be off");
            assert!(!cal.is_working_day(d(day)));
        }
        // Sunday 26 April and Saturday 9 May were worked.
        assert!(cal.is_working_day(d("2020-04-26")));
        assert!(cal.is_working_day(d("2020-05-09")));
        assert!(!cal.is_holiday(d("2020-04-26")));
        // An ordinary weekend is neither a holiday nor worked.
        assert!(!cal.is_holiday(d("2020-05-16")));
        assert!(!cal.is_working_day(d("2020-05-16")));
    }

    #[test]
    fn national_day_2026_and_its_adjusted_working_days() {
        let cal = Calendar::default();
        assert!(cal.is_holiday(d("2026-10-01")));
        assert!(cal.is_holiday(d("2026-10-07")));
        assert!(cal.is_working_day(d("2026-09-20")));
        assert!(cal.is_working_day(d("2026-10-10")));
    }

    #[test]
    fn a_replaced_year_drops_every_shipped_entry_of_that_year() {
        let cal = Calendar {
            years: vec![CalendarYear {
                year: 2020,
                days: vec![CalendarDay {
                    date: d("2020-06-01"),
                    kind: DayKind::Holiday,
                    name: "x".into(),
                }],
            }],
        };
        assert!(!cal.is_holiday(d("2020-05-01")));
        assert!(cal.is_working_day(d("2020-05-01")));
        assert!(cal.is_holiday(d("2020-06-01")));
        // Other years still use the shipped data.
        assert!(cal.is_holiday(d("2021-05-01")));
    }

    #[test]
    fn counting_working_days_skips_holidays_and_plain_weekends() {
        let cal = Calendar::default();
        // 2026-05-01 is a Friday and a holiday; 28–30 April are working days.
        assert_eq!(
            cal.nth_working_day_before(d("2026-05-01"), 3),
            d("2026-04-28")
        );
        // 2020-05-06 (Wed): previous working days are 30 Apr, 29 Apr (1–5 May off).
        assert_eq!(
            cal.nth_working_day_before(d("2020-05-06"), 1),
            d("2020-04-30")
        );
        // 2020-04-27 (Mon): the Sunday 26 April was worked.
        assert_eq!(
            cal.nth_working_day_before(d("2020-04-27"), 1),
            d("2020-04-26")
        );
        // A plain Monday: the previous working day is Friday.
        assert_eq!(
            cal.nth_working_day_before(d("2026-06-08"), 1),
            d("2026-06-05")
        );
    }
}
