//! Cursor pagination: `?limit=` (default 50, at most 500) and an opaque `?cursor=`.

use crate::error::ApiError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use uuid::Uuid;
use whereabouts_core::IssueCode;

/// One page of a list: its items and the cursor of the next page. Each list
/// names its page's schema with [`page_schema!`](crate::page_schema).
#[derive(Debug, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// Names `Page<$item>` in the OpenAPI document as the schema `$name`, with a
/// description of the page, of its items and of its cursor; `$name` becomes
/// an alias of `Page<$item>`.
#[macro_export]
macro_rules! page_schema {
    ($(#[doc = $doc:literal])* $name:ident, $item:ty, $items:literal, $next:literal) => {
        $(#[doc = $doc])*
        pub type $name = $crate::page::Page<$item>;

        const _: () = {
            // The schema only: never built, it gives the page its name and
            // its descriptions in the document.
            $(#[doc = $doc])*
            #[derive(utoipa::ToSchema)]
            #[allow(dead_code)]
            struct $name {
                #[doc = $items]
                items: Vec<$item>,
                #[doc = $next]
                next_cursor: Option<String>,
            }

            impl utoipa::PartialSchema for $crate::page::Page<$item> {
                fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                    <$name as utoipa::PartialSchema>::schema()
                }
            }

            impl utoipa::ToSchema for $crate::page::Page<$item> {
                fn name() -> std::borrow::Cow<'static, str> {
                    <$name as utoipa::ToSchema>::name()
                }

                fn schemas(
                    schemas: &mut Vec<(
                        String,
                        utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
                    )>,
                ) {
                    <$name as utoipa::ToSchema>::schemas(schemas)
                }
            }
        };
    };
}

/// Default page size.
pub const DEFAULT_LIMIT: i64 = 50;
/// Largest page size.
pub const MAX_LIMIT: i64 = 500;

/// Paging parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PageParams {
    /// Items per page, 1 to 500 (default 50).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    /// The limit, checked.
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::invalid(
                IssueCode::OutOfRange,
                "limit",
                serde_json::json!({"min": 1, "max": MAX_LIMIT}),
            )),
        }
    }

    /// The key after which the page starts.
    pub fn after(&self) -> Result<Option<String>, ApiError> {
        match &self.cursor {
            None => Ok(None),
            Some(cursor) => URL_SAFE_NO_PAD
                .decode(cursor)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .filter(|key| !key.contains('\0'))
                .map(Some)
                .ok_or_else(|| {
                    ApiError::invalid(IssueCode::Invalid, "cursor", serde_json::json!({}))
                }),
        }
    }
}

/// The cursor for the page after the one ending at `key`.
pub fn cursor_after(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// The key of a row in a list ordered newest first: its creation time (to the
/// microsecond) and its id.
pub fn time_key(at: DateTime<Utc>, id: Uuid) -> String {
    format!("{}|{id}", at.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// Reads a [`time_key`] back (422 `invalid` on `cursor` when it is none).
pub fn parse_time_key(key: &str) -> Result<(DateTime<Utc>, Uuid), ApiError> {
    key.split_once('|')
        .and_then(|(at, id)| {
            Some((
                DateTime::parse_from_rfc3339(at).ok()?.to_utc(),
                id.parse::<Uuid>().ok()?,
            ))
        })
        .ok_or_else(|| ApiError::invalid(IssueCode::Invalid, "cursor", serde_json::json!({})))
}

/// Splits `limit + 1` loaded rows into a page and the next cursor.
pub fn paginate<T>(
    mut rows: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() > limit {
        rows.truncate(limit);
        let next = rows.last().map(|r| cursor_after(&key(r)));
        (rows, next)
    } else {
        (rows, None)
    }
}
