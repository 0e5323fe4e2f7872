-- Travel documents (passports and passes) per person, their numbers sealed
-- with an AEAD, and the unit's custody: checked out against an approved
-- filing, due back some days after the trip's return.

CREATE TABLE travel_documents (
    id uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id),
    -- The holder's node and its ancestors when registered: scope reads these.
    unit_path uuid[] NOT NULL,
    kind text NOT NULL CHECK (kind IN ('passport', 'hk_macau_pass', 'taiwan_pass')),
    -- ChaCha20-Poly1305 over the number, with the document's id as associated data.
    number_sealed bytea NOT NULL,
    number_nonce bytea NOT NULL CHECK (length(number_nonce) = 12),
    issued_on date NOT NULL,
    expires_on date NOT NULL CHECK (expires_on > issued_on),
    -- Whether the unit keeps it (the holder's rules require custody).
    in_custody boolean NOT NULL DEFAULT true,
    registered_by uuid NOT NULL REFERENCES accounts (id),
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX travel_documents_account_idx ON travel_documents (account_id);
CREATE INDEX travel_documents_path_idx ON travel_documents USING gin (unit_path);

CREATE TABLE document_checkouts (
    id uuid PRIMARY KEY,
    document_id uuid NOT NULL REFERENCES travel_documents (id),
    filing_id uuid NOT NULL REFERENCES filings (id),
    checked_out_by uuid NOT NULL REFERENCES accounts (id),
    checked_out_at timestamptz NOT NULL,
    due_on date NOT NULL,
    returned_by uuid REFERENCES accounts (id),
    returned_at timestamptz,
    CHECK ((returned_by IS NULL) = (returned_at IS NULL))
);
-- A document is out at most once at a time.
CREATE UNIQUE INDEX document_checkouts_open_idx ON document_checkouts (document_id) WHERE returned_at IS NULL;
CREATE INDEX document_checkouts_due_idx ON document_checkouts (due_on) WHERE returned_at IS NULL;
