//! Travel documents as stored: numbers sealed at rest and masked in answers,
//! rows, checkouts, and the documents built from them; registering a
//! document, checking it out and taking it back.

use crate::error::ApiError;
use crate::extract::{AppState, Principal};
use crate::policy::{self, Action};
use crate::schema::{accounts, document_checkouts, filings, travel_documents, units};
use crate::store::Within;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use utoipa::ToSchema;
use uuid::Uuid;
use whereabouts_core::assessment::DocumentKind;

/// Seals a document number; the document's id is bound in as associated data,
/// so a sealed number cannot be moved to another row. Stored as nonce and
/// ciphertext.
pub fn seal(key: &[u8; 32], id: Uuid, number: &str) -> Result<(Vec<u8>, Vec<u8>), ApiError> {
    let sealed = crate::seal::seal(key, id.as_bytes(), number.as_bytes())
        .ok_or_else(|| ApiError::broken("a sealed document number"))?;
    let (nonce, body) = sealed.split_at(12);
    Ok((body.to_vec(), nonce.to_vec()))
}

/// Opens a number sealed with [`seal`].
pub fn open(key: &[u8; 32], id: Uuid, sealed: &[u8], nonce: &[u8]) -> Result<String, ApiError> {
    let mut whole = nonce.to_vec();
    whole.extend_from_slice(sealed);
    let plain = crate::seal::open(key, id.as_bytes(), &whole).ok_or_else(|| {
        tracing::error!(document = %id, "a document number does not open with the configured key");
        ApiError::Internal
    })?;
    String::from_utf8(plain).map_err(ApiError::internal("decoding a document number as UTF-8"))
}

/// The number with every character hidden but its last few: at most three,
/// and never more than a third of it (`AB123` → `****3`, `E12345678` →
/// `******678`, `AB` → `**`).
pub fn mask(number: &str) -> String {
    let length = number.chars().count();
    let shown = (length / 3).min(3);
    number
        .chars()
        .enumerate()
        .map(|(i, c)| if i + shown >= length { c } else { '*' })
        .collect()
}

/// A document to register.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DocumentInput {
    /// The holder.
    pub account_id: Uuid,
    /// `passport`, `hk_macau_pass` or `taiwan_pass`.
    pub kind: DocumentKind,
    /// The document number: 5 to 20 letters and digits.
    pub number: String,
    /// Issued on.
    pub issued_on: NaiveDate,
    /// Expires on.
    pub expires_on: NaiveDate,
    /// Whether the unit keeps it (the holder's rules require custody; default true).
    #[serde(default)]
    pub in_custody: Option<bool>,
}

/// The current checkout of a document.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Checkout {
    /// The checkout.
    pub id: Uuid,
    /// The filing it was taken out for.
    pub filing_id: Uuid,
    /// Who handed it out.
    pub checked_out_by: Uuid,
    /// When.
    pub checked_out_at: DateTime<Utc>,
    /// Due back on (the trip's return plus the configured days).
    pub due_on: NaiveDate,
    /// Not back and past `due_on`.
    pub overdue: bool,
}

/// Where a travel document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentState {
    /// In the unit's safe.
    Held,
    /// Checked out to its holder for a trip.
    CheckedOut,
    /// Kept by its holder: the unit does not hold it in custody.
    WithHolder,
}

/// A travel document.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Document {
    /// Id.
    pub id: Uuid,
    /// The holder.
    pub account_id: Uuid,
    /// The holder's name.
    pub display_name: String,
    /// Its kind.
    pub kind: DocumentKind,
    /// The number: whole only for unit administrators of the holder's scope,
    /// otherwise masked (`******678`): at most the last three characters and
    /// never more than a third of them.
    pub number: String,
    /// Whether `number` is masked.
    pub number_masked: bool,
    /// Issued on.
    pub issued_on: NaiveDate,
    /// Expires on.
    pub expires_on: NaiveDate,
    /// Whether the unit keeps it.
    pub in_custody: bool,
    /// Where the document is now.
    pub state: DocumentState,
    /// The current checkout, if out.
    pub checkout: Option<Checkout>,
    /// Version, also the `ETag`.
    pub version: i32,
    /// Registered.
    pub created_at: DateTime<Utc>,
}

/// A document as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = travel_documents)]
pub struct Row {
    pub id: Uuid,
    pub account_id: Uuid,
    pub unit_path: Vec<Uuid>,
    pub kind: String,
    pub number_sealed: Vec<u8>,
    pub number_nonce: Vec<u8>,
    pub issued_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub in_custody: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
}

/// A checkout as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = document_checkouts)]
pub struct CheckoutRow {
    pub id: Uuid,
    pub document_id: Uuid,
    pub filing_id: Uuid,
    pub checked_out_by: Uuid,
    pub checked_out_at: DateTime<Utc>,
    pub due_on: NaiveDate,
}

/// Builds the answers, unmasking only what the caller administers.
pub fn to_documents(
    conn: &mut PgConnection,
    state: &AppState,
    who: &Principal,
    rows: Vec<Row>,
) -> Result<Vec<Document>, ApiError> {
    let today = state
        .config
        .now()
        .with_timezone(&state.config.time_zone)
        .date_naive();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let holders: Vec<Uuid> = rows.iter().map(|r| r.account_id).collect();
    let names: HashMap<Uuid, String> = accounts::table
        .filter(accounts::id.eq_any(&holders))
        .select((accounts::id, accounts::display_name))
        .load::<(Uuid, String)>(conn)?
        .into_iter()
        .collect();
    let open_checkouts: HashMap<Uuid, CheckoutRow> = document_checkouts::table
        .filter(document_checkouts::document_id.eq_any(&ids))
        .filter(document_checkouts::returned_at.is_null())
        .select(CheckoutRow::as_select())
        .load::<CheckoutRow>(conn)?
        .into_iter()
        .map(|c| (c.document_id, c))
        .collect();
    let keeper = policy::scope(who, Action::KeepDocuments);
    let administers = |path: &[Uuid]| keeper.holds(path);
    let mut out = Vec::new();
    for row in rows {
        let unmasked = administers(&row.unit_path);
        let number = open(
            &state.config.document_key,
            row.id,
            &row.number_sealed,
            &row.number_nonce,
        )?;
        let checkout = open_checkouts.get(&row.id).map(|c| Checkout {
            id: c.id,
            filing_id: c.filing_id,
            checked_out_by: c.checked_out_by,
            checked_out_at: c.checked_out_at,
            due_on: c.due_on,
            overdue: c.due_on < today,
        });
        out.push(Document {
            id: row.id,
            account_id: row.account_id,
            display_name: names.get(&row.account_id).cloned().unwrap_or_default(),
            kind: crate::store::enums::parse_enum(&row.kind)?,
            number: if unmasked { number } else { mask(&number) },
            number_masked: !unmasked,
            issued_on: row.issued_on,
            expires_on: row.expires_on,
            in_custody: row.in_custody,
            state: match (&checkout, row.in_custody) {
                (Some(_), _) => DocumentState::CheckedOut,
                (None, true) => DocumentState::Held,
                (None, false) => DocumentState::WithHolder,
            },
            checkout,
            version: row.version,
            created_at: row.created_at,
        });
    }
    Ok(out)
}

/// A document's row (not found answers 404).
pub fn load_row(conn: &mut PgConnection, id: Uuid) -> Result<Row, ApiError> {
    Ok(travel_documents::table
        .find(id)
        .select(Row::as_select())
        .first(conn)?)
}

/// A document's row, locked for the rest of the transaction (not found
/// answers 404).
pub fn lock_row(conn: &mut PgConnection, id: Uuid) -> Result<Row, ApiError> {
    Ok(travel_documents::table
        .find(id)
        .select(Row::as_select())
        .for_update()
        .first(conn)?)
}

/// A document as the caller may read it.
pub fn one(
    conn: &mut PgConnection,
    state: &AppState,
    who: &Principal,
    id: Uuid,
) -> Result<Document, ApiError> {
    let row = load_row(conn, id)?;
    to_documents(conn, state, who, vec![row])?
        .pop()
        .ok_or_else(|| ApiError::broken("the document just loaded"))
}

/// What the audit chain keeps of a document: never the number.
pub fn audit_state(d: &Document) -> serde_json::Value {
    json!({"id": d.id, "account_id": d.account_id, "kind": d.kind, "issued_on": d.issued_on,
           "expires_on": d.expires_on, "in_custody": d.in_custody, "state": d.state, "version": d.version})
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn a_masked_number_shows_at_most_its_last_three_characters_and_never_more_than_a_third() {
        for (number, masked) in [
            ("AB123", "****3"),
            ("E12345678", "******678"),
            ("AB", "**"),
            ("", ""),
            ("ABC", "**C"),
            ("ABCDEF", "****EF"),
            ("ABCDEFGHIJKLMNOPQRST", "*****************RST"),
        ] {
            assert_eq!(mask(number), masked, "{number}");
        }
        for len in 0..=40 {
            let number: String = "N".repeat(len);
            let shown = mask(&number).chars().filter(|c| *c != '*').count();
            assert!(shown <= 3 && shown * 3 <= len, "{len}: {shown} shown");
            assert_eq!(mask(&number).chars().count(), len);
        }
    }
}

/// Which documents a page lists.
#[derive(Debug)]
pub struct Listed {
    /// Whose documents, by their holders' nodes.
    pub within: Within,
    /// One holder.
    pub account_id: Option<Uuid>,
    /// Only those expiring on this day or before.
    pub expiring_by: Option<NaiveDate>,
    /// Only those checked out and past their due day (or only the others).
    pub overdue: Option<bool>,
    /// The jurisdiction's today.
    pub today: NaiveDate,
}

/// Up to `limit` documents of `listed` after the key `after` (expiry, id),
/// by expiry then id.
pub fn page(
    conn: &mut PgConnection,
    listed: &Listed,
    after: Option<(NaiveDate, Uuid)>,
    limit: i64,
) -> QueryResult<Vec<Row>> {
    let mut query = travel_documents::table
        .select(Row::as_select())
        .into_boxed();
    if let Some(condition) = listed.within.condition("travel_documents.unit_path") {
        query = query.filter(condition);
    }
    if let Some(account) = listed.account_id {
        query = query.filter(travel_documents::account_id.eq(account));
    }
    if let Some(by) = listed.expiring_by {
        query = query.filter(travel_documents::expires_on.le(by));
    }
    if let Some(overdue) = listed.overdue {
        let out_and_late = document_checkouts::table
            .filter(document_checkouts::document_id.eq(travel_documents::id))
            .filter(document_checkouts::returned_at.is_null())
            .filter(document_checkouts::due_on.lt(listed.today));
        query = if overdue {
            query.filter(diesel::dsl::exists(out_and_late))
        } else {
            query.filter(diesel::dsl::not(diesel::dsl::exists(out_and_late)))
        };
    }
    if let Some((day, id)) = after {
        query = query.filter(
            travel_documents::expires_on
                .gt(day)
                .or(travel_documents::expires_on
                    .eq(day)
                    .and(travel_documents::id.gt(id))),
        );
    }
    query
        .order((travel_documents::expires_on, travel_documents::id))
        .limit(limit)
        .load(conn)
}

/// The node of a would-be holder and that node's path: `None` for an
/// account unknown or of no unit.
pub fn holder_node(
    conn: &mut PgConnection,
    account: Uuid,
) -> Result<Option<(Uuid, Vec<Uuid>)>, ApiError> {
    let holder: Option<(Option<Uuid>, Option<Vec<Uuid>>)> = accounts::table
        .left_join(units::table)
        .filter(accounts::id.eq(account))
        .select((accounts::unit_id, units::path.nullable()))
        .first(conn)
        .optional()?;
    Ok(match holder {
        Some((Some(unit), Some(path))) => Some((unit, path)),
        _ => None,
    })
}

/// A document to store, its number sealed.
pub struct NewDocument<'a> {
    /// Its id, bound into the sealed number.
    pub id: Uuid,
    /// The holder.
    pub account_id: Uuid,
    /// The path of the holder's node.
    pub unit_path: &'a [Uuid],
    /// Its kind.
    pub kind: DocumentKind,
    /// The sealed number.
    pub number_sealed: &'a [u8],
    /// The nonce it was sealed with.
    pub number_nonce: &'a [u8],
    /// Issued on.
    pub issued_on: NaiveDate,
    /// Expires on.
    pub expires_on: NaiveDate,
    /// Whether the unit keeps it.
    pub in_custody: bool,
    /// Who registers it.
    pub registered_by: Uuid,
}

/// Stores a newly registered document.
pub fn register(conn: &mut PgConnection, new: &NewDocument) -> Result<(), ApiError> {
    diesel::insert_into(travel_documents::table)
        .values((
            travel_documents::id.eq(new.id),
            travel_documents::account_id.eq(new.account_id),
            travel_documents::unit_path.eq(new.unit_path),
            travel_documents::kind.eq(crate::store::enums::enum_name(&new.kind)),
            travel_documents::number_sealed.eq(new.number_sealed),
            travel_documents::number_nonce.eq(new.number_nonce),
            travel_documents::issued_on.eq(new.issued_on),
            travel_documents::expires_on.eq(new.expires_on),
            travel_documents::in_custody.eq(new.in_custody),
            travel_documents::registered_by.eq(new.registered_by),
        ))
        .execute(conn)?;
    Ok(())
}

/// Whether a document is checked out now (a checkout not yet returned).
pub fn is_checked_out(conn: &mut PgConnection, id: Uuid) -> Result<bool, ApiError> {
    Ok(diesel::select(diesel::dsl::exists(
        document_checkouts::table
            .filter(document_checkouts::document_id.eq(id))
            .filter(document_checkouts::returned_at.is_null()),
    ))
    .get_result(conn)?)
}

/// What a checkout needs of the filing it is asked for.
#[derive(Queryable)]
pub struct TripFiling {
    /// The filer.
    pub account_id: Uuid,
    /// Its status, as stored.
    pub status: String,
    /// Its kind of trip, as stored.
    pub kind: Option<String>,
    /// Its return day.
    pub return_on: Option<NaiveDate>,
}

/// The filer, status, kind and return day of a filing, if there is one.
pub fn trip_filing(conn: &mut PgConnection, id: Uuid) -> Result<Option<TripFiling>, ApiError> {
    Ok(filings::table
        .find(id)
        .select((
            filings::account_id,
            filings::status,
            filings::kind,
            filings::return_on,
        ))
        .first(conn)
        .optional()?)
}

/// Checks a document out against a filing, due back on `due_on`, and moves
/// the document one version on.
pub fn check_out(
    conn: &mut PgConnection,
    document: &Row,
    filing_id: Uuid,
    by: Uuid,
    at: DateTime<Utc>,
    due_on: NaiveDate,
) -> Result<(), ApiError> {
    diesel::insert_into(document_checkouts::table)
        .values((
            document_checkouts::id.eq(Uuid::new_v4()),
            document_checkouts::document_id.eq(document.id),
            document_checkouts::filing_id.eq(filing_id),
            document_checkouts::checked_out_by.eq(by),
            document_checkouts::checked_out_at.eq(at),
            document_checkouts::due_on.eq(due_on),
        ))
        .execute(conn)?;
    next_version(conn, document)
}

/// Ends a document's current checkout and moves the document one version
/// on; answers `false`, changing nothing, when it is not checked out.
pub fn take_back(
    conn: &mut PgConnection,
    document: &Row,
    by: Uuid,
    at: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let returned = diesel::update(
        document_checkouts::table
            .filter(document_checkouts::document_id.eq(document.id))
            .filter(document_checkouts::returned_at.is_null()),
    )
    .set((
        document_checkouts::returned_by.eq(by),
        document_checkouts::returned_at.eq(at),
    ))
    .execute(conn)?;
    if returned == 0 {
        return Ok(false);
    }
    next_version(conn, document)?;
    Ok(true)
}

/// Moves a document one version on, stamped as updated now.
fn next_version(conn: &mut PgConnection, document: &Row) -> Result<(), ApiError> {
    diesel::update(travel_documents::table.find(document.id))
        .set((
            travel_documents::version.eq(document.version + 1),
            travel_documents::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(())
}
