//! The ledger: filings across a unit subtree, filtered by window, status,
//! kind, rank and the derived flags, page by page with counts, or exported
//! whole as CSV or XLSX (streamed, so memory stays flat however many rows).
//! CSV cells that would begin a formula are neutralised (`crate::csv_safe`);
//! XLSX cells are written as strings, which spreadsheets never run.

use crate::access::{self, Access, Entry, Requester};
use crate::error::ApiError;
use crate::extract::{AppState, Principal, RequestLang};
use crate::page::{PageParams, cursor_after};
use crate::policy::{self, Action};
use crate::store::flags::FlagSql;
use crate::store::ledger::{
    self as store, EXPORT_BATCH, Filter, LedgerCounts, LedgerEntry, LedgerParams, Row, batch,
    build_filter, cells, csv_bytes, headings, parse_cursor, position_of,
};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::OwnedSemaphorePermit;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use whereabouts_core::{IssueCode, Lang};

/// The most rows one XLSX export writes (a worksheet holds 1,048,576).
const XLSX_MAX_ROWS: usize = 1_000_000;

/// How `listLedger` answers, for clients written before the export operations.
#[derive(Debug, Clone, Deserialize, IntoParams)]
pub struct LedgerFormatParams {
    /// `json` (the default) answers a page. `csv` and `xlsx` answer the same
    /// download as `exportLedgerCsv` and `exportLedgerXlsx`, which new clients
    /// call instead: leave this unset in a generated client.
    #[param(value_type = Option<LedgerFormat>)]
    pub format: Option<String>,
}

/// What `listLedger` answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LedgerFormat {
    /// A page of JSON.
    Json,
    /// Every matching row as CSV.
    Csv,
    /// Every matching row as an XLSX workbook.
    Xlsx,
}

/// A page of the ledger.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LedgerPage {
    /// Filings, latest departure first.
    pub items: Vec<LedgerEntry>,
    /// Counts over every page.
    pub counts: LedgerCounts,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

fn check(params: &LedgerParams) -> Result<(), ApiError> {
    crate::input::dates_in_range([("from", params.from), ("to", params.to)])?;
    if let (Some(from), Some(to)) = (params.from, params.to)
        && to < from
    {
        return Err(ApiError::invalid(
            IssueCode::ReturnBeforeDeparture,
            "to",
            json!({}),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Xlsx,
}

fn format_of(params: &LedgerFormatParams, req: &HttpRequest) -> Result<Format, ApiError> {
    match params.format.as_deref() {
        Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some("xlsx") => Ok(Format::Xlsx),
        Some(_) => Err(ApiError::invalid(
            IssueCode::Invalid,
            "format",
            json!({"allowed": ["json", "csv", "xlsx"]}),
        )),
        None => {
            let accept = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_ascii_lowercase();
            Ok(if accept.contains("text/csv") {
                Format::Csv
            } else if accept.contains("spreadsheetml") {
                Format::Xlsx
            } else {
                Format::Json
            })
        }
    }
}

/// The filings a ledger request selects, checked against the caller's scope:
/// the filter over the nodes in scope, and the SQL of the derived flags.
async fn select(
    state: &web::Data<AppState>,
    who: Principal,
    params: &LedgerParams,
) -> Result<(Filter, FlagSql), ApiError> {
    policy::require(&who, Action::Supervise)?;
    check(params)?;
    // The nodes in scope, by the tree's path index: filings are then matched
    // by their node, which the window index carries.
    let roots = match params.unit_id {
        Some(unit) => Some(vec![unit]),
        None => policy::scope(&who, Action::Supervise).roots(),
    };
    let unit = params.unit_id;
    let nodes = state
        .db
        .run(move |conn| {
            if let Some(unit) = unit {
                policy::authorize(conn, &who, Action::Supervise, unit)?;
            }
            match roots {
                None => Ok(None),
                Some(roots) => Ok(Some(store::nodes_under(conn, roots)?)),
            }
        })
        .await?;
    let flags = FlagSql::new(&state.config);
    let filter = build_filter(params, nodes, &flags);
    Ok((filter, flags))
}

/// Page through the ledger of filings across a subtree
///
/// System administrators, unit admins and inspectors, over their scope (403
/// `forbidden` to callers holding none of these roles); `unit_id` narrows it
/// to a node's subtree (404 `not_found` for a node unknown or outside the
/// caller's scope). Filters: trips overlapping `from`..`to`, `status`, `kind`,
/// the filer's `rank`, and the derived flags `late`, `overdue` and
/// `departed_before_approval`. Each entry carries the filer, the trip and the
/// flags; `counts` covers every matching filing, not only this page. Latest
/// departure first; one page per call, as `{items, counts, next_cursor}`:
/// pass `next_cursor` back as `cursor` for the next page.
///
/// To download every matching row at once, call `exportLedgerCsv` or
/// `exportLedgerXlsx` with the same filters. (The deprecated `format`
/// parameter, or an `Accept` header asking for `text/csv` or the XLSX media
/// type, makes this operation answer the same download, for older clients.)
#[utoipa::path(get, path = "/api/v1/ledger", operation_id = "listLedger", tag = "supervision", params(LedgerParams, LedgerFormatParams, PageParams),
    responses(
        (status = 200, description = "A page of the ledger (or, with the deprecated `format`, the export)", content(
            (LedgerPage = "application/json"),
            (String = "text/csv"),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )),
        (status = 401), (status = 403), (status = 404), (status = 422),
        (status = 429, description = "An export while every heavy-read slot of the server is taken (`rate_limited`); retry after `Retry-After` seconds")),
    security(("bearer" = [])))]
pub async fn ledger(
    state: web::Data<AppState>,
    who: Principal,
    lang: RequestLang,
    req: HttpRequest,
    params: web::Query<LedgerParams>,
    format: web::Query<LedgerFormatParams>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let requester = Requester::of(&req);
    let params = params.into_inner();
    let format = format_of(&format, &req)?;
    let limit = page.limit()?;
    let after = page.after()?.map(|a| parse_cursor(&a)).transpose()?;
    let read = Entry::read(Access::LedgerPage, &who, Action::Supervise, params.unit_id);
    let (filter, flags) = select(&state, who, &params).await?;
    match format {
        Format::Csv => {
            let slot = state.heavy.admit()?;
            logged_export(&state, requester, read).await?;
            return Ok(export_csv(state, slot, filter, flags, lang.0));
        }
        Format::Xlsx => {
            let slot = state.heavy.admit()?;
            logged_export(&state, requester, read).await?;
            return export_xlsx(state, slot, filter, flags, lang.0).await;
        }
        Format::Json => {}
    }

    let page = state
        .db
        .run(move |conn| {
            let counts = store::counts(conn, &filter, &flags, params.rank.is_some())?;
            let mut rows = store::page(conn, filter, &flags, after, limit + 1)?;
            let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
            rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            let next_cursor = if more {
                rows.last()
                    .and_then(|r| r.depart_on.map(|d| cursor_after(&format!("{d}|{}", r.id))))
            } else {
                None
            };
            let items: Vec<_> = rows.into_iter().map(Row::entry).collect::<Result<_, _>>()?;
            access::record(conn, &requester, read.rows(items.len()))?;
            Ok(LedgerPage {
                items,
                counts,
                next_cursor,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Export the ledger as CSV
///
/// Readers as for `listLedger`: system administrators, unit admins and
/// inspectors over their scope (403 `forbidden` to callers holding none of
/// these roles; 404 `not_found` for a `unit_id` outside it). Every filing the
/// ledger's filters select, as CSV with a header row. The headings are in
/// zh-CN unless the request asks for English (`Accept-Language: en`). The
/// body is streamed as it is read; cells that would start a spreadsheet
/// formula are prefixed with `'`. An export holds one of the server's
/// heavy-read slots while it streams: with every slot taken it answers 429
/// `rate_limited` with `Retry-After`.
#[utoipa::path(get, path = "/api/v1/ledger/export.csv", operation_id = "exportLedgerCsv", tag = "supervision", params(LedgerParams),
    responses(
        (status = 200, description = "The ledger as CSV, headings first", content_type = "text/csv", body = Vec<u8>),
        (status = 401), (status = 403), (status = 404), (status = 422),
        (status = 429, description = "Every heavy-read slot of the server is taken (`rate_limited`); retry after `Retry-After` seconds")),
    security(("bearer" = [])))]
pub async fn export_ledger_csv(
    state: web::Data<AppState>,
    who: Principal,
    lang: RequestLang,
    params: web::Query<LedgerParams>,
    requester: Requester,
) -> Result<HttpResponse, ApiError> {
    let read = Entry::read(
        Access::LedgerExport,
        &who,
        Action::Supervise,
        params.unit_id,
    );
    let (filter, flags) = select(&state, who, &params).await?;
    let slot = state.heavy.admit()?;
    logged_export(&state, requester, read).await?;
    Ok(export_csv(state, slot, filter, flags, lang.0))
}

/// Export the ledger as an XLSX workbook
///
/// Readers as for `listLedger`: system administrators, unit admins and
/// inspectors over their scope (403 `forbidden` to callers holding none of
/// these roles; 404 `not_found` for a `unit_id` outside it). Every filing the
/// ledger's filters select, as a workbook of one sheet. The headings are in
/// zh-CN unless the request asks for English (`Accept-Language: en`). One
/// export writes at most 1,000,000 rows; more answer 413
/// `payload_too_large`: narrow the filters. An export holds one of the
/// server's heavy-read slots while it runs: with every slot taken it answers
/// 429 `rate_limited` with `Retry-After`.
#[utoipa::path(get, path = "/api/v1/ledger/export.xlsx", operation_id = "exportLedgerXlsx", tag = "supervision", params(LedgerParams),
    responses(
        (status = 200, description = "The ledger as an XLSX workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 401), (status = 403), (status = 404), (status = 422),
        (status = 429, description = "Every heavy-read slot of the server is taken (`rate_limited`); retry after `Retry-After` seconds")),
    security(("bearer" = [])))]
pub async fn export_ledger_xlsx(
    state: web::Data<AppState>,
    who: Principal,
    lang: RequestLang,
    params: web::Query<LedgerParams>,
    requester: Requester,
) -> Result<HttpResponse, ApiError> {
    let read = Entry::read(
        Access::LedgerExport,
        &who,
        Action::Supervise,
        params.unit_id,
    );
    let (filter, flags) = select(&state, who, &params).await?;
    let slot = state.heavy.admit()?;
    logged_export(&state, requester, read).await?;
    export_xlsx(state, slot, filter, flags, lang.0).await
}

/// Logs an export as it starts (its rows are streamed, not counted ahead).
async fn logged_export(
    state: &web::Data<AppState>,
    requester: Requester,
    read: Entry,
) -> Result<(), ApiError> {
    let export = read.action(Access::LedgerExport);
    state
        .db
        .run(move |conn| access::record(conn, &requester, export))
        .await
}

/// Streams the CSV: a batch is read only when the client has taken the last.
/// The heavy-read slot is held until the stream ends or is dropped.
fn export_csv(
    state: web::Data<AppState>,
    slot: OwnedSemaphorePermit,
    filter: Filter,
    flags: FlagSql,
    lang: Lang,
) -> HttpResponse {
    let shared = std::sync::Arc::new((filter, flags));
    let head = match csv_bytes(&[headings(lang).map(str::to_owned)]) {
        Ok(mut h) => {
            // A byte order mark, so spreadsheet programs read the UTF-8.
            let mut bom = "\u{feff}".as_bytes().to_vec();
            bom.append(&mut h);
            bom
        }
        Err(_) => Vec::new(),
    };
    enum Step {
        Head,
        After(Option<(NaiveDate, Uuid)>),
        Done,
    }
    let stream = futures_util::stream::unfold(Step::Head, move |step| {
        let state = state.clone();
        let shared = shared.clone();
        let head = head.clone();
        async move {
            match step {
                Step::Done => None,
                Step::Head => Some((Ok::<_, ApiError>(web::Bytes::from(head)), Step::After(None))),
                Step::After(after) => {
                    let loaded = state
                        .heavy
                        .db
                        .run(move |conn| batch(conn, &shared.0, &shared.1, after))
                        .await;
                    match loaded {
                        Err(e) => {
                            tracing::error!(error = %e, "a ledger export stopped");
                            Some((Err(e), Step::Done))
                        }
                        Ok(entries) if entries.is_empty() => None,
                        Ok(entries) => {
                            let next = if entries.len()
                                < usize::try_from(EXPORT_BATCH).unwrap_or(usize::MAX)
                            {
                                Step::Done
                            } else {
                                Step::After(position_of(&entries))
                            };
                            let rows: Vec<[String; 20]> =
                                entries.iter().map(|e| cells(e, lang)).collect();
                            Some((csv_bytes(&rows).map(web::Bytes::from), next))
                        }
                    }
                }
            }
        }
    })
    .map(move |chunk| {
        let _held = &slot;
        chunk
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"ledger.csv\"",
        ))
        .streaming(stream)
}

/// Writes the XLSX in constant memory to a temporary file, then streams it.
/// The heavy-read slot is held until the file has been sent or abandoned.
async fn export_xlsx(
    state: web::Data<AppState>,
    slot: OwnedSemaphorePermit,
    filter: Filter,
    flags: FlagSql,
    lang: Lang,
) -> Result<HttpResponse, ApiError> {
    let path = std::env::temp_dir().join(format!("whereabouts-ledger-{}.xlsx", Uuid::new_v4()));
    let target = path.clone();
    let db = state.heavy.db.clone();
    web::block(move || -> Result<(), ApiError> {
        let mut conn = db.get().map_err(|_| ApiError::Unavailable)?;
        let mut workbook = rust_xlsxwriter::Workbook::new();
        let sheet = workbook.add_worksheet_with_constant_memory();
        for (col, title) in headings(lang).iter().enumerate() {
            sheet
                .write_string(
                    0,
                    u16::try_from(col)
                        .map_err(ApiError::internal("numbering a spreadsheet column"))?,
                    *title,
                )
                .map_err(ApiError::internal("writing a spreadsheet heading"))?;
        }
        let mut row: u32 = 1;
        let mut after = None;
        loop {
            let entries = batch(&mut conn, &filter, &flags, after)?;
            for e in &entries {
                for (col, value) in cells(e, lang).iter().enumerate() {
                    sheet
                        .write_string(
                            row,
                            u16::try_from(col)
                                .map_err(ApiError::internal("numbering a spreadsheet column"))?,
                            value,
                        )
                        .map_err(ApiError::internal("writing a spreadsheet cell"))?;
                }
                row += 1;
                if usize::try_from(row).unwrap_or(usize::MAX) > XLSX_MAX_ROWS {
                    return Err(ApiError::PayloadTooLarge);
                }
            }
            if entries.len() < usize::try_from(EXPORT_BATCH).unwrap_or(usize::MAX) {
                break;
            }
            after = position_of(&entries);
        }
        workbook
            .save(&target)
            .map_err(ApiError::internal("saving the spreadsheet"))?;
        Ok(())
    })
    .await
    .map_err(ApiError::internal("running the spreadsheet export"))??;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(ApiError::internal("opening the spreadsheet file"))?;
    // The file is unlinked at once; the open handle keeps it readable.
    let _ = tokio::fs::remove_file(&path).await;
    let stream = futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(web::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    })
    .map(move |chunk| {
        let _held = &slot;
        chunk
    });
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"ledger.xlsx\"",
        ))
        .streaming(stream))
}
