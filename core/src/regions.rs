//! Destinations: mainland divisions (GB/T 2260, province and prefecture level),
//! Hong Kong, Macau, Taiwan, and other countries (ISO 3166-1 alpha-2).

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::LazyLock;

/// Where a destination code lies.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DestinationKind {
    /// A mainland province-level division.
    Province,
    /// A mainland prefecture-level division.
    Prefecture,
    /// Hong Kong.
    HongKong,
    /// Macau.
    Macau,
    /// Taiwan.
    Taiwan,
    /// Another country or territory.
    Country,
}

impl DestinationKind {
    /// Whether the code is a mainland division.
    pub fn is_mainland(self) -> bool {
        matches!(
            self,
            DestinationKind::Province | DestinationKind::Prefecture
        )
    }
}

/// A known destination.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    /// The code.
    pub code: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// Where it lies.
    pub kind: DestinationKind,
    /// The province of a prefecture.
    pub parent: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct DivisionFile {
    source: String,
    version: String,
    entries: Vec<DivisionEntry>,
}

#[derive(Debug, Deserialize)]
struct DivisionEntry {
    code: String,
    name_zh: String,
    name_en: String,
    level: String,
    parent: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct CountryFile {
    source: String,
    version: String,
    entries: Vec<CountryEntry>,
}

#[derive(Debug, Deserialize)]
struct CountryEntry {
    code: String,
    name_zh: String,
    name_en: String,
}

static DIVISIONS: LazyLock<DivisionFile> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../data/regions.json")).unwrap_or_default()
});

static COUNTRIES: LazyLock<CountryFile> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../data/countries.json")).unwrap_or_default()
});

static ALL: LazyLock<Vec<Region>> = LazyLock::new(|| {
    let divisions = DIVISIONS.entries.iter().map(|e| Region {
        code: e.code.clone(),
        name_zh: e.name_zh.clone(),
        name_en: e.name_en.clone(),
        kind: if e.level == "province" {
            DestinationKind::Province
        } else {
            DestinationKind::Prefecture
        },
        parent: e.parent.clone(),
    });
    let countries = COUNTRIES.entries.iter().map(|e| Region {
        code: e.code.clone(),
        name_zh: e.name_zh.clone(),
        name_en: e.name_en.clone(),
        kind: match e.code.as_str() {
            "HK" => DestinationKind::HongKong,
            "MO" => DestinationKind::Macau,
            "TW" => DestinationKind::Taiwan,
            _ => DestinationKind::Country,
        },
        parent: None,
    });
    divisions.chain(countries).collect()
});

static BY_CODE: LazyLock<HashMap<&'static str, &'static Region>> =
    LazyLock::new(|| ALL.iter().map(|r| (r.code.as_str(), r)).collect());

/// Looks a destination code up.
pub fn lookup(code: &str) -> Option<&'static Region> {
    BY_CODE.get(code).copied()
}

/// Every known destination, mainland divisions first (by code), then countries.
pub fn all() -> &'static [Region] {
    &ALL
}

/// The destination at province or country level: a prefecture's province,
/// anything else itself. What an away roster may show.
pub fn coarse(code: &str) -> Option<&'static Region> {
    let region = lookup(code)?;
    match region.kind {
        DestinationKind::Prefecture => region.parent.as_deref().and_then(lookup).or(Some(region)),
        _ => Some(region),
    }
}

/// Destinations whose code starts with, or whose Chinese or English name contains,
/// the query (case-insensitive), at most `limit` of them.
pub fn search(query: &str, limit: usize) -> Vec<&'static Region> {
    let query = query.trim().to_lowercase();
    if query.is_empty() {
        return Vec::new();
    }
    ALL.iter()
        .filter(|r| {
            r.code.to_lowercase().starts_with(&query)
                || r.name_zh.contains(&query)
                || r.name_en.to_lowercase().contains(&query)
        })
        .take(limit)
        .collect()
}

/// The sources and versions of the embedded tables: `(divisions, countries)`.
pub fn sources() -> [(&'static str, &'static str); 2] {
    [
        (&DIVISIONS.source, &DIVISIONS.version),
        (&COUNTRIES.source, &COUNTRIES.version),
    ]
}

/// The two-digit province prefix of a mainland code.
fn province_prefix(code: &str) -> Option<&str> {
    code.get(..2)
}

/// Whether destination `code` lies inside `container`: the same code; a mainland
/// code inside a province sharing its prefix (a prefecture inside its province).
pub fn is_inside(code: &str, container: &str) -> bool {
    if code == container {
        return true;
    }
    match (lookup(code), lookup(container)) {
        (Some(inner), Some(outer)) if inner.kind.is_mainland() => {
            outer.kind == DestinationKind::Province
                && province_prefix(&inner.code) == province_prefix(&outer.code)
        }
        _ => false,
    }
}

/// Whether a destination is inside the home jurisdiction: a mainland code that
/// shares the jurisdiction's province prefix.
pub fn is_inside_jurisdiction(code: &str, home_code: &str) -> bool {
    lookup(code).is_some_and(|r| r.kind.is_mainland())
        && province_prefix(code) == province_prefix(home_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_loaded_with_sources() {
        assert!(all().len() > 300);
        for (source, version) in sources() {
            assert!(!source.is_empty() && !version.is_empty());
        }
    }

    #[test]
    fn lookups_cover_provinces_prefectures_and_countries() {
        assert_eq!(
            lookup("110000").map(|r| r.kind),
            Some(DestinationKind::Province)
        );
        assert_eq!(
            lookup("310000").map(|r| r.kind),
            Some(DestinationKind::Province)
        );
        assert_eq!(
            lookup("320500").map(|r| r.kind),
            Some(DestinationKind::Prefecture)
        );
        assert_eq!(
            lookup("320500").and_then(|r| r.parent.as_deref()),
            Some("320000")
        );
        assert_eq!(lookup("JP").map(|r| r.kind), Some(DestinationKind::Country));
        assert_eq!(
            lookup("HK").map(|r| r.kind),
            Some(DestinationKind::HongKong)
        );
        assert_eq!(lookup("MO").map(|r| r.kind), Some(DestinationKind::Macau));
        assert_eq!(lookup("TW").map(|r| r.kind), Some(DestinationKind::Taiwan));
        assert!(lookup("CN").is_none());
        assert!(lookup("999999").is_none());
        assert!(
            lookup("110100").is_none(),
            "municipal districts are not prefectures"
        );
    }

    #[test]
    fn containment_follows_the_province_prefix() {
        assert!(is_inside("320500", "320000"));
        assert!(is_inside("320000", "320000"));
        assert!(!is_inside("320000", "320500"));
        assert!(!is_inside("330100", "320000"));
        assert!(is_inside("JP", "JP"));
        assert!(!is_inside("JP", "KR"));
        assert!(is_inside_jurisdiction("110000", "110000"));
        assert!(!is_inside_jurisdiction("120000", "110000"));
        assert!(!is_inside_jurisdiction("JP", "110000"));
    }

    #[test]
    fn coarse_destinations_stop_at_province_or_country() {
        assert_eq!(coarse("320500").map(|r| r.code.as_str()), Some("320000"));
        assert_eq!(coarse("320000").map(|r| r.code.as_str()), Some("320000"));
        assert_eq!(coarse("JP").map(|r| r.code.as_str()), Some("JP"));
        assert!(coarse("999999").is_none());
    }

    #[test]
    fn search_finds_by_name_in_both_languages_and_by_code() {
        assert!(search("苏州", 10).iter().any(|r| r.code == "320500"));
        assert!(search("suzhou", 10).iter().any(|r| r.code == "320500"));
        assert!(search("japan", 10).iter().any(|r| r.code == "JP"));
        assert!(search("3205", 10).iter().any(|r| r.code == "320500"));
        assert!(search("  ", 10).is_empty());
    }
}
