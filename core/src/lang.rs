//! The languages messages are written in.

use serde::{Deserialize, Serialize};

/// A language for human-readable messages: simplified Chinese or English.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Lang {
    /// Simplified Chinese, the default for users in the jurisdiction.
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    /// English.
    #[serde(rename = "en")]
    En,
}

impl Lang {
    /// Picks the language from an `Accept-Language` header value: the first
    /// supported tag wins, `zh` variants map to zh-CN, anything else falls back to zh-CN.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut tags: Vec<(f32, &str)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.trim().split(';');
                let tag = pieces.next()?.trim();
                let quality = pieces
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                (!tag.is_empty()).then_some((quality, tag))
            })
            .collect();
        tags.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
        for (_, tag) in tags {
            let lower = tag.to_ascii_lowercase();
            if lower.starts_with("en") {
                return Lang::En;
            }
            if lower.starts_with("zh") {
                return Lang::ZhCn;
            }
        }
        Lang::ZhCn
    }

    /// Picks the text for this language.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::ZhCn => zh,
            Lang::En => en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_prefers_highest_quality_supported_tag() {
        assert_eq!(Lang::from_accept_language("en"), Lang::En);
        assert_eq!(Lang::from_accept_language("zh-CN,en;q=0.8"), Lang::ZhCn);
        assert_eq!(
            Lang::from_accept_language("fr, en;q=0.5, zh;q=0.4"),
            Lang::En
        );
        assert_eq!(Lang::from_accept_language("de"), Lang::ZhCn);
        assert_eq!(Lang::from_accept_language(""), Lang::ZhCn);
    }
}
