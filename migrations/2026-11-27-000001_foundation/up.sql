-- The foundation: the unit tree, accounts and their roles, sessions, login
-- throttling, policies, special periods and calendar years.

CREATE TABLE units (
    id uuid PRIMARY KEY,
    code text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_.-]{1,64}$'),
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    kind text NOT NULL CHECK (kind IN ('jurisdiction', 'unit', 'subunit', 'department')),
    parent_id uuid REFERENCES units (id),
    -- Ancestors from the root down to the unit itself: subtree tests are `path @> ARRAY[id]`.
    path uuid[] NOT NULL CHECK (path[array_length(path, 1)] = id),
    principal_id uuid,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (parent_id IS DISTINCT FROM id)
);
CREATE INDEX units_path_idx ON units USING gin (path);
CREATE INDEX units_parent_idx ON units (parent_id);

CREATE TABLE accounts (
    id uuid PRIMARY KEY,
    login text NOT NULL UNIQUE CHECK (login ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    display_name text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 100),
    -- Only the bootstrap system administrator belongs to no unit.
    unit_id uuid REFERENCES units (id),
    employee_no text UNIQUE CHECK (char_length(employee_no) BETWEEN 1 AND 64),
    mobile text CHECK (char_length(mobile) BETWEEN 1 AND 32),
    rank text NOT NULL CHECK (rank IN ('clerk', 'section', 'division', 'bureau')),
    position text NOT NULL CHECK (position IN ('staff', 'department_head', 'deputy', 'principal')),
    party_member boolean NOT NULL DEFAULT false,
    public_official boolean NOT NULL DEFAULT true,
    key_post boolean NOT NULL DEFAULT false,
    password_hash text NOT NULL,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    -- Access tokens issued before this instant are refused.
    credentials_changed_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accounts_unit_idx ON accounts (unit_id);

ALTER TABLE units ADD CONSTRAINT units_principal_fk FOREIGN KEY (principal_id) REFERENCES accounts (id);

CREATE TABLE unit_deputies (
    unit_id uuid NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    account_id uuid NOT NULL REFERENCES accounts (id),
    ordinal integer NOT NULL,
    in_charge_of uuid[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (unit_id, account_id)
);

CREATE TABLE role_grants (
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('unit_admin', 'inspector', 'system_admin')),
    -- NULL only for a system administrator over the whole tree.
    unit_id uuid REFERENCES units (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (unit_id IS NOT NULL OR role = 'system_admin')
);
CREATE UNIQUE INDEX role_grants_unique_idx
    ON role_grants (account_id, role, coalesce(unit_id, '00000000-0000-0000-0000-000000000000'));
CREATE INDEX role_grants_unit_idx ON role_grants (unit_id, role);

CREATE TABLE refresh_tokens (
    id uuid PRIMARY KEY,
    family_id uuid NOT NULL,
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    spent_at timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

CREATE TABLE login_throttle (
    bucket text PRIMARY KEY,
    window_started_at timestamptz NOT NULL,
    failures integer NOT NULL CHECK (failures >= 0)
);

CREATE TABLE policies (
    unit_id uuid NOT NULL REFERENCES units (id),
    version integer NOT NULL CHECK (version >= 1),
    rules jsonb NOT NULL CHECK (jsonb_typeof(rules) = 'array'),
    created_by uuid REFERENCES accounts (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (unit_id, version)
);

CREATE TABLE special_periods (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    unit_id uuid NOT NULL REFERENCES units (id),
    starts_on date NOT NULL,
    ends_on date NOT NULL,
    trip_kinds text[] NOT NULL
        CHECK (trip_kinds <@ ARRAY['leave_jurisdiction', 'abroad_private', 'hk_macau_private', 'taiwan_private']),
    min_requirement text NOT NULL CHECK (min_requirement IN ('none', 'report', 'approval')),
    approvers jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(approvers) = 'array'),
    restricted_destinations jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(restricted_destinations) = 'array'),
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_on >= starts_on)
);
CREATE INDEX special_periods_unit_idx ON special_periods (unit_id);
CREATE INDEX special_periods_dates_idx ON special_periods (starts_on, ends_on);

-- A year listed here replaces the calendar the core ships for that year.
CREATE TABLE calendar_years (
    year integer PRIMARY KEY CHECK (year BETWEEN 1900 AND 2200),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE calendar_days (
    date date PRIMARY KEY,
    year integer NOT NULL REFERENCES calendar_years (year) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('holiday', 'workday')),
    name text NOT NULL DEFAULT '' CHECK (char_length(name) <= 100),
    CHECK (extract(year FROM date)::integer = year)
);
CREATE INDEX calendar_days_year_idx ON calendar_days (year);
