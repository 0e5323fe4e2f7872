-- Evidence of where people were, its imports, reconciliation runs and the
-- discrepancies they find.

CREATE TABLE evidence_imports (
    id uuid PRIMARY KEY,
    -- A repeated batch key (per unit) changes nothing and answers the first result.
    batch_key text NOT NULL CHECK (length(batch_key) BETWEEN 1 AND 200),
    unit_id uuid NOT NULL REFERENCES units (id),
    source text NOT NULL CHECK (source IN ('itinerary', 'border_crossing', 'attendance')),
    imported_by uuid NOT NULL REFERENCES accounts (id),
    accepted integer NOT NULL CHECK (accepted >= 0),
    rejected jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (unit_id, batch_key)
);

CREATE TABLE evidence (
    id bigserial PRIMARY KEY,
    import_id uuid NOT NULL REFERENCES evidence_imports (id),
    row_number integer NOT NULL CHECK (row_number >= 1),
    account_id uuid NOT NULL REFERENCES accounts (id),
    -- The person's node and its ancestors when imported: scope reads these.
    unit_path uuid[] NOT NULL,
    source text NOT NULL CHECK (source IN ('itinerary', 'border_crossing', 'attendance')),
    date date NOT NULL,
    location_code text,
    direction text CHECK (direction IN ('exit', 'entry')),
    status text CHECK (status IN ('present', 'out', 'absent', 'leave')),
    CHECK (source <> 'itinerary' OR location_code IS NOT NULL),
    CHECK (source <> 'border_crossing' OR direction IS NOT NULL),
    CHECK (direction IS DISTINCT FROM 'exit' OR location_code IS NOT NULL),
    CHECK (source <> 'attendance' OR status IS NOT NULL)
);
CREATE INDEX evidence_account_date_idx ON evidence (account_id, date);
CREATE INDEX evidence_path_idx ON evidence USING gin (unit_path);

CREATE TABLE reconciliations (
    id uuid PRIMARY KEY,
    unit_id uuid NOT NULL REFERENCES units (id),
    from_on date NOT NULL,
    to_on date NOT NULL CHECK (to_on >= from_on),
    run_by uuid NOT NULL REFERENCES accounts (id),
    people integer NOT NULL,
    created integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE discrepancies (
    id uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id),
    unit_id uuid NOT NULL REFERENCES units (id),
    unit_path uuid[] NOT NULL,
    kind text NOT NULL CHECK (kind IN ('unreported_departure', 'returned_late', 'departed_before_approval',
                                       'destination_differs', 'absence_without_filing')),
    from_on date NOT NULL,
    to_on date NOT NULL CHECK (to_on >= from_on),
    filing_id uuid REFERENCES filings (id),
    evidence_ids bigint[] NOT NULL,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'explained', 'confirmed')),
    explanation text,
    explained_by uuid REFERENCES accounts (id),
    explained_at timestamptz,
    confirmed_by uuid REFERENCES accounts (id),
    confirmed_at timestamptz,
    reconciliation_id uuid NOT NULL REFERENCES reconciliations (id),
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- Running reconciliation again over the same data creates nothing new.
    UNIQUE (account_id, kind, from_on, to_on)
);
CREATE INDEX discrepancies_path_idx ON discrepancies USING gin (unit_path);
CREATE INDEX discrepancies_dates_idx ON discrepancies (from_on, to_on);
