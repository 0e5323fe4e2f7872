-- Filings, their approval steps and events, delegations, and the audit chain.

CREATE TABLE filings (
    id uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id),
    -- The filer's node and its ancestors when filed: ledgers and scope read these.
    unit_id uuid NOT NULL REFERENCES units (id),
    unit_path uuid[] NOT NULL,
    status text NOT NULL CHECK (status IN ('draft', 'pending', 'approved', 'recorded', 'rejected', 'withdrawn', 'cancelled', 'away', 'returned')),
    kind text CHECK (kind IN ('leave_jurisdiction', 'abroad_private', 'hk_macau_private', 'taiwan_private')),
    depart_on date,
    return_on date,
    draft jsonb NOT NULL,
    assessment jsonb,
    requirement text CHECK (requirement IN ('none', 'report', 'approval')),
    policy_unit_id uuid,
    policy_version integer,
    current_round integer NOT NULL DEFAULT 0,
    current_step integer,
    steps integer NOT NULL DEFAULT 0 CHECK (steps >= 0),
    extension_pending boolean NOT NULL DEFAULT false,
    submit_by timestamptz,
    submitted_at timestamptz,
    approved_at timestamptz,
    departed_at timestamptz,
    returned_at timestamptz,
    return_report text,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'pending' AND current_step IS NOT NULL AND NOT extension_pending)
        OR (status = 'away' AND extension_pending = (current_step IS NOT NULL))
        OR (status NOT IN ('pending', 'away') AND current_step IS NULL AND NOT extension_pending)),
    CHECK (status = 'draft' OR submitted_at IS NOT NULL),
    CHECK (return_on IS NULL OR depart_on IS NULL OR return_on >= depart_on)
);
CREATE INDEX filings_account_idx ON filings (account_id, created_at DESC);
CREATE INDEX filings_path_idx ON filings USING gin (unit_path);
CREATE INDEX filings_status_dates_idx ON filings (status, depart_on, return_on);

-- One row per approval step; round 0 is the filing, round n its n-th extension.
CREATE TABLE filing_steps (
    filing_id uuid NOT NULL REFERENCES filings (id),
    round integer NOT NULL CHECK (round >= 0),
    step integer NOT NULL CHECK (step >= 1),
    rule jsonb NOT NULL,
    candidates uuid[] NOT NULL CHECK (cardinality(candidates) >= 1),
    decision text CHECK (decision IN ('approved', 'rejected')),
    decided_by uuid REFERENCES accounts (id),
    -- The approver a delegate decided for.
    decided_for uuid REFERENCES accounts (id),
    comment text,
    decided_at timestamptz,
    PRIMARY KEY (filing_id, round, step),
    CHECK ((decision IS NULL) = (decided_at IS NULL))
);
CREATE INDEX filing_steps_candidates_idx ON filing_steps USING gin (candidates) WHERE decision IS NULL;

CREATE TABLE filing_extensions (
    filing_id uuid NOT NULL REFERENCES filings (id),
    round integer NOT NULL CHECK (round >= 1),
    new_return_on date NOT NULL,
    previous_return_on date NOT NULL,
    reason text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    status text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'recorded')),
    requested_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz,
    PRIMARY KEY (filing_id, round),
    CHECK (new_return_on > previous_return_on)
);

CREATE TABLE filing_events (
    id bigserial PRIMARY KEY,
    filing_id uuid NOT NULL REFERENCES filings (id),
    at timestamptz NOT NULL DEFAULT now(),
    actor_id uuid NOT NULL REFERENCES accounts (id),
    on_behalf_of uuid REFERENCES accounts (id),
    action text NOT NULL,
    from_status text,
    to_status text NOT NULL,
    comment text,
    data jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX filing_events_filing_idx ON filing_events (filing_id, id);

CREATE TABLE delegations (
    account_id uuid PRIMARY KEY REFERENCES accounts (id),
    delegate_id uuid NOT NULL REFERENCES accounts (id),
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at),
    CHECK (delegate_id <> account_id)
);
CREATE INDEX delegations_delegate_idx ON delegations (delegate_id);

-- The audit chain: every state change of every resource, each row's hash
-- covering the previous row's hash and the row itself. Append only.
CREATE TABLE audit_log (
    id bigint PRIMARY KEY,
    at timestamptz NOT NULL,
    actor_id uuid,
    entity text NOT NULL,
    entity_id uuid,
    action text NOT NULL,
    data jsonb NOT NULL,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL UNIQUE
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
