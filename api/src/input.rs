//! The ranges every request's input keeps to, checked in one place: a name
//! has at least one visible character, and a date lies in
//! [`EARLIEST_DATE`]`..=`[`LATEST_DATE`].
//!
//! Dates are checked by [`dates_in_range`], which each handler calls with the
//! dates it was given, wherever they came from: a JSON body (its own or the
//! core's trip draft and special period), a query string, or a path. A
//! refusal is 422 `date_out_of_range` naming every field at fault, before
//! anything is read or written.

use crate::error::{ApiError, ProblemCode};
use chrono::NaiveDate;
use serde_json::json;
use whereabouts_core::{Issue, IssueCode};

/// The first day any request may name.
pub const EARLIEST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(day) => day,
    None => NaiveDate::MIN,
};

/// The last day any request may name.
pub const LATEST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2100, 12, 31) {
    Some(day) => day,
    None => NaiveDate::MAX,
};

/// Characters that show nothing: zero-width characters, bidirectional
/// controls, the byte order mark, and fillers that render as blank. Together
/// with whitespace and control characters, a name of only these is blank.
const INVISIBLE: &[char] = &[
    '\u{00AD}', // soft hyphen
    '\u{034F}', // combining grapheme joiner
    '\u{115F}', // Hangul choseong filler
    '\u{1160}', // Hangul jungseong filler
    '\u{180E}', // Mongolian vowel separator
    '\u{200B}', // zero width space
    '\u{200C}', // zero width non-joiner
    '\u{200D}', // zero width joiner
    '\u{200E}', // left-to-right mark
    '\u{200F}', // right-to-left mark
    '\u{202A}', // left-to-right embedding
    '\u{202B}', // right-to-left embedding
    '\u{202C}', // pop directional formatting
    '\u{202D}', // left-to-right override
    '\u{202E}', // right-to-left override
    '\u{2060}', // word joiner
    '\u{2061}', // function application
    '\u{2062}', // invisible times
    '\u{2063}', // invisible separator
    '\u{2064}', // invisible plus
    '\u{2066}', // left-to-right isolate
    '\u{2067}', // right-to-left isolate
    '\u{2068}', // first strong isolate
    '\u{2069}', // pop directional isolate
    '\u{3164}', // Hangul filler
    '\u{FEFF}', // byte order mark, zero width no-break space
    '\u{FFA0}', // halfwidth Hangul filler
];

/// Whether a character shows nothing on its own.
fn invisible(c: char) -> bool {
    c.is_whitespace() || c.is_control() || INVISIBLE.contains(&c)
}

/// Whether a text has nothing to see: empty, or only whitespace, control
/// characters, zero-width characters, bidirectional controls and the like.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(invisible)
}

/// The issue with a name, if any: `required` when it has nothing to see,
/// `too_long` (`max`) when its trimmed length exceeds `max` characters.
pub fn name_issue(field: &str, name: &str, max: usize) -> Option<Issue> {
    if is_blank(name) {
        Some(Issue::new(
            IssueCode::Required,
            Some(field.to_owned()),
            json!({}),
        ))
    } else if name.trim().chars().count() > max {
        Some(Issue::new(
            IssueCode::TooLong,
            Some(field.to_owned()),
            json!({"max": max}),
        ))
    } else {
        None
    }
}

/// Refuses a name as [`name_issue`] does (422 `validation_failed`).
pub fn check_name(field: &str, name: &str, max: usize) -> Result<(), ApiError> {
    match name_issue(field, name, max) {
        Some(issue) => Err(ApiError::Validation(vec![issue])),
        None => Ok(()),
    }
}

/// The issue with a date outside the range, if it is.
pub fn date_issue(field: &str, date: NaiveDate) -> Option<Issue> {
    (!(EARLIEST_DATE..=LATEST_DATE).contains(&date)).then(|| {
        Issue::new(
            IssueCode::DateOutOfRange,
            Some(field.to_owned()),
            json!({"min": EARLIEST_DATE, "max": LATEST_DATE}),
        )
    })
}

/// Refuses with 422 `date_out_of_range` when any given date lies outside
/// the range, naming each such field. Absent dates pass.
pub fn dates_in_range<F: AsRef<str>>(
    dates: impl IntoIterator<Item = (F, Option<NaiveDate>)>,
) -> Result<(), ApiError> {
    let issues: Vec<Issue> = dates
        .into_iter()
        .filter_map(|(field, date)| date_issue(field.as_ref(), date?))
        .collect();
    if issues.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Unprocessable(ProblemCode::DateOutOfRange, issues))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_needs_something_to_see() {
        for blank in [
            "",
            " ",
            "\t\r\n",
            "\u{3000}",
            "\u{200B}\u{200C}\u{200D}\u{2060}",
            "\u{200E}\u{200F}",
            "\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}",
            "\u{2066}\u{2067}\u{2068}\u{2069}",
            "\u{FEFF}",
            "\u{00AD}\u{3164}",
        ] {
            assert!(is_blank(blank), "{blank:?}");
            assert_eq!(
                name_issue("name", blank, 10).map(|i| i.code),
                Some(IssueCode::Required)
            );
        }
        for name in ["王", "a", "\u{200B}王\u{200B}", "\u{202E}abc", "0"] {
            assert!(!is_blank(name), "{name:?}");
            assert!(name_issue("name", name, 10).is_none());
        }
        assert_eq!(
            name_issue("name", " abcdefghijk ", 10).map(|i| i.code),
            Some(IssueCode::TooLong)
        );
    }

    #[test]
    fn dates_must_lie_in_1900_to_2100() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert!(
            dates_in_range([
                ("a", day(1900, 1, 1)),
                ("b", day(2100, 12, 31)),
                ("c", None)
            ])
            .is_ok()
        );
        let Err(ApiError::Unprocessable(code, issues)) = dates_in_range([
            ("a", day(1899, 12, 31)),
            ("b", day(2027, 5, 1)),
            ("c", day(2101, 1, 1)),
            ("d", day(0, 1, 1)),
            ("e", day(-1, 1, 1)),
            ("f", day(10000, 1, 1)),
        ]) else {
            panic!("far dates pass");
        };
        assert_eq!(code, ProblemCode::DateOutOfRange);
        let fields: Vec<_> = issues.iter().map(|i| i.field.clone().unwrap()).collect();
        assert_eq!(fields, ["a", "c", "d", "e", "f"]);
        assert!(issues.iter().all(|i| i.code == IssueCode::DateOutOfRange));
    }
}
