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
    login_throttle (bucket) {
        bucket -> Text,
        window_started_at -> Timestamptz,
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

diesel::allow_tables_to_appear_in_same_query!(
    units,
    accounts,
    unit_deputies,
    role_grants,
    refresh_tokens,
    login_throttle,
    policies,
    special_periods,
    calendar_years,
    calendar_days,
    idempotency_keys,
);
