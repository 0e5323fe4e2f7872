//! The database schema, as diesel sees it. Kept in step with `migrations/`;
//! `tests/schema.rs` checks they agree.

diesel::table! {
    units (id) {
        id -> Uuid,
        code -> Text,
        name -> Text,
        kind -> Text,
        parent_id -> Nullable<Uuid>,
        path -> Array<Uuid>,
        principal_id -> Nullable<Uuid>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    accounts (id) {
        id -> Uuid,
        login -> Text,
        display_name -> Text,
        unit_id -> Nullable<Uuid>,
        employee_no -> Nullable<Text>,
        mobile -> Nullable<Text>,
        rank -> Text,
        position -> Text,
        party_member -> Bool,
        public_official -> Bool,
        key_post -> Bool,
        password_hash -> Text,
        status -> Text,
        credentials_changed_at -> Timestamptz,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    unit_deputies (unit_id, account_id) {
        unit_id -> Uuid,
        account_id -> Uuid,
        ordinal -> Int4,
        in_charge_of -> Array<Uuid>,
    }
}

diesel::table! {
    role_grants (account_id, role) {
        account_id -> Uuid,
        role -> Text,
        unit_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Uuid,
        family_id -> Uuid,
        account_id -> Uuid,
        token_hash -> Bytea,
        expires_at -> Timestamptz,
        spent_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        account_id -> Uuid,
        created_at -> Timestamptz,
        last_used_at -> Timestamptz,
        user_agent -> Nullable<Text>,
        address -> Nullable<Text>,
        ended_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(refresh_tokens -> sessions (family_id));

diesel::table! {
    login_throttle (bucket) {
        bucket -> Text,
        last_failure_at -> Timestamptz,
        failures -> Int4,
    }
}

diesel::table! {
    policies (unit_id, version) {
        unit_id -> Uuid,
        version -> Int4,
        rules -> Jsonb,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    special_periods (id) {
        id -> Uuid,
        name -> Text,
        unit_id -> Uuid,
        starts_on -> Date,
        ends_on -> Date,
        trip_kinds -> Array<Text>,
        min_requirement -> Text,
        approvers -> Jsonb,
        restricted_destinations -> Jsonb,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    calendar_years (year) {
        year -> Int4,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    calendar_days (date) {
        date -> Date,
        year -> Int4,
        kind -> Text,
        name -> Text,
    }
}

diesel::joinable!(accounts -> units (unit_id));
diesel::joinable!(unit_deputies -> units (unit_id));
diesel::joinable!(role_grants -> accounts (account_id));
diesel::joinable!(policies -> units (unit_id));
diesel::joinable!(special_periods -> units (unit_id));
diesel::joinable!(calendar_days -> calendar_years (year));

diesel::table! {
    idempotency_keys (account_id, key) {
        account_id -> Uuid,
        key -> Text,
        request_hash -> Bytea,
        status -> Nullable<Int4>,
        content_type -> Nullable<Text>,
        etag -> Nullable<Text>,
        body -> Nullable<Bytea>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    filings (id) {
        id -> Uuid,
        account_id -> Uuid,
        unit_id -> Uuid,
        unit_path -> Array<Uuid>,
        status -> Text,
        kind -> Nullable<Text>,
        depart_on -> Nullable<Date>,
        return_on -> Nullable<Date>,
        draft -> Jsonb,
        assessment -> Nullable<Jsonb>,
        requirement -> Nullable<Text>,
        policy_unit_id -> Nullable<Uuid>,
        policy_version -> Nullable<Int4>,
        current_round -> Int4,
        current_step -> Nullable<Int4>,
        steps -> Int4,
        extension_pending -> Bool,
        submit_by -> Nullable<Timestamptz>,
        submitted_at -> Nullable<Timestamptz>,
        approved_at -> Nullable<Timestamptz>,
        departed_at -> Nullable<Timestamptz>,
        returned_at -> Nullable<Timestamptz>,
        return_report -> Nullable<Text>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    filing_steps (filing_id, round, step) {
        filing_id -> Uuid,
        round -> Int4,
        step -> Int4,
        rule -> Jsonb,
        candidates -> Array<Uuid>,
        decision -> Nullable<Text>,
        decided_by -> Nullable<Uuid>,
        decided_for -> Nullable<Uuid>,
        comment -> Nullable<Text>,
        decided_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    filing_extensions (filing_id, round) {
        filing_id -> Uuid,
        round -> Int4,
        new_return_on -> Date,
        previous_return_on -> Date,
        reason -> Text,
        status -> Text,
        requested_at -> Timestamptz,
        decided_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    filing_events (id) {
        id -> Int8,
        filing_id -> Uuid,
        at -> Timestamptz,
        actor_id -> Uuid,
        on_behalf_of -> Nullable<Uuid>,
        action -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        comment -> Nullable<Text>,
        data -> Jsonb,
    }
}

diesel::table! {
    delegations (account_id) {
        account_id -> Uuid,
        delegate_id -> Uuid,
        starts_at -> Timestamptz,
        ends_at -> Timestamptz,
        created_at -> Timestamptz,
    }
}

/// PostgreSQL's 64-bit transaction id type.
#[derive(diesel::sql_types::SqlType, diesel::query_builder::QueryId)]
#[diesel(postgres_type(name = "xid8"))]
pub struct Xid8;

diesel::table! {
    use diesel::sql_types::*;
    use super::Xid8;

    audit_log (id) {
        id -> Int8,
        at -> Timestamptz,
        actor_id -> Nullable<Uuid>,
        entity -> Text,
        entity_id -> Nullable<Uuid>,
        action -> Text,
        data -> Jsonb,
        prev_hash -> Nullable<Bytea>,
        hash -> Nullable<Bytea>,
        xid -> Xid8,
        seq -> Nullable<Int8>,
    }
}

diesel::joinable!(filing_steps -> filings (filing_id));
diesel::joinable!(filing_events -> filings (filing_id));

diesel::table! {
    notifications (id) {
        id -> Uuid,
        account_id -> Uuid,
        kind -> Text,
        filing_id -> Nullable<Uuid>,
        data -> Jsonb,
        dedupe_key -> Nullable<Text>,
        created_at -> Timestamptz,
        read_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Uuid,
        url -> Text,
        secret -> Text,
        events -> Array<Text>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        unit_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    outbox (id) {
        id -> Int8,
        webhook_id -> Uuid,
        event -> Text,
        payload -> Jsonb,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        delivered_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    evidence_imports (id) {
        id -> Uuid,
        batch_key -> Text,
        unit_id -> Uuid,
        source -> Text,
        imported_by -> Uuid,
        accepted -> Int4,
        rejected -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    evidence (id) {
        id -> Int8,
        import_id -> Uuid,
        row_number -> Int4,
        account_id -> Uuid,
        unit_path -> Array<Uuid>,
        source -> Text,
        date -> Date,
        location_code -> Nullable<Text>,
        direction -> Nullable<Text>,
        status -> Nullable<Text>,
    }
}

diesel::table! {
    reconciliations (id) {
        id -> Uuid,
        unit_id -> Uuid,
        from_on -> Date,
        to_on -> Date,
        run_by -> Uuid,
        people -> Int4,
        created -> Int4,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    discrepancies (id) {
        id -> Uuid,
        account_id -> Uuid,
        unit_id -> Uuid,
        unit_path -> Array<Uuid>,
        kind -> Text,
        from_on -> Date,
        to_on -> Date,
        filing_id -> Nullable<Uuid>,
        evidence_ids -> Array<Int8>,
        status -> Text,
        explanation -> Nullable<Text>,
        explained_by -> Nullable<Uuid>,
        explained_at -> Nullable<Timestamptz>,
        confirmed_by -> Nullable<Uuid>,
        confirmed_at -> Nullable<Timestamptz>,
        reconciliation_id -> Uuid,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        cleared_by -> Nullable<Uuid>,
        cleared_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    discrepancy_events (id) {
        id -> Int8,
        discrepancy_id -> Uuid,
        at -> Timestamptz,
        actor_id -> Uuid,
        action -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        note -> Nullable<Text>,
    }
}

diesel::joinable!(evidence -> evidence_imports (import_id));
diesel::joinable!(discrepancy_events -> discrepancies (discrepancy_id));

diesel::table! {
    inspections (id) {
        id -> Uuid,
        name -> Text,
        unit_id -> Uuid,
        from_on -> Date,
        to_on -> Date,
        opened_by -> Uuid,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    inspection_findings (id) {
        id -> Uuid,
        inspection_id -> Uuid,
        unit_id -> Uuid,
        category -> Text,
        description -> Text,
        measures -> Array<Text>,
        created_by -> Uuid,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    rectifications (id) {
        id -> Uuid,
        finding_id -> Uuid,
        description -> Text,
        deadline -> Date,
        status -> Text,
        evidence -> Nullable<Text>,
        review_on -> Nullable<Date>,
        completed_at -> Nullable<Timestamptz>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(inspections -> units (unit_id));
diesel::joinable!(inspection_findings -> inspections (inspection_id));
diesel::joinable!(rectifications -> inspection_findings (finding_id));

diesel::table! {
    travel_documents (id) {
        id -> Uuid,
        account_id -> Uuid,
        unit_path -> Array<Uuid>,
        kind -> Text,
        number_sealed -> Bytea,
        number_nonce -> Bytea,
        issued_on -> Date,
        expires_on -> Date,
        in_custody -> Bool,
        registered_by -> Uuid,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    document_checkouts (id) {
        id -> Uuid,
        document_id -> Uuid,
        filing_id -> Uuid,
        checked_out_by -> Uuid,
        checked_out_at -> Timestamptz,
        due_on -> Date,
        returned_by -> Nullable<Uuid>,
        returned_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(document_checkouts -> travel_documents (document_id));

diesel::table! {
    /// Counts every change to what a filer's context is read from.
    context_version (only_row) {
        only_row -> Bool,
        n -> Int8,
    }
}

diesel::table! {
    audit_checkpoints (at) {
        at -> Timestamptz,
        seq -> Int8,
        hash -> Bytea,
        signature -> Text,
    }
}

diesel::table! {
    access_log (id) {
        id -> Int8,
        at -> Timestamptz,
        actor_id -> Nullable<Uuid>,
        action -> Text,
        target -> Nullable<Text>,
        filters -> Jsonb,
        rows -> Nullable<Int8>,
        address -> Nullable<Text>,
        request_id -> Nullable<Text>,
        units -> Array<Uuid>,
    }
}

diesel::table! {
    mfa_totp (account_id) {
        account_id -> Uuid,
        secret -> Bytea,
        created_at -> Timestamptz,
        confirmed_at -> Nullable<Timestamptz>,
        last_step -> Nullable<Int8>,
    }
}

diesel::table! {
    mfa_recovery_codes (id) {
        id -> Uuid,
        account_id -> Uuid,
        code_hash -> Bytea,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    units,
    accounts,
    unit_deputies,
    role_grants,
    refresh_tokens,
    sessions,
    login_throttle,
    policies,
    special_periods,
    calendar_years,
    calendar_days,
    idempotency_keys,
    filings,
    filing_steps,
    filing_extensions,
    filing_events,
    delegations,
    audit_log,
    audit_checkpoints,
    access_log,
    mfa_totp,
    mfa_recovery_codes,
    notifications,
    webhooks,
    outbox,
    evidence_imports,
    evidence,
    reconciliations,
    discrepancies,
    discrepancy_events,
    inspections,
    inspection_findings,
    rectifications,
    travel_documents,
    document_checkouts,
    context_version,
);
