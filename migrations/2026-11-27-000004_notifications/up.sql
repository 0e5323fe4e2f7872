-- The in-app notification feed, webhooks, and the transactional outbox that
-- delivers to them.

CREATE TABLE notifications (
    id uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('approval_requested', 'filing_decided', 'extension_decided', 'return_report_due', 'return_overdue')),
    filing_id uuid REFERENCES filings (id),
    data jsonb NOT NULL DEFAULT '{}',
    -- Sweeps notify once per filing and return date, however many replicas run them.
    dedupe_key text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at timestamptz
);
CREATE INDEX notifications_account_idx ON notifications (account_id, created_at DESC, id);

CREATE TABLE webhooks (
    id uuid PRIMARY KEY,
    url text NOT NULL CHECK (url ~ '^https?://' AND char_length(url) <= 2000),
    secret text NOT NULL CHECK (char_length(secret) BETWEEN 16 AND 200),
    -- Event names it wants; empty means every event.
    events text[] NOT NULL DEFAULT '{}',
    created_by uuid REFERENCES accounts (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);

CREATE TABLE outbox (
    id bigserial PRIMARY KEY,
    webhook_id uuid NOT NULL REFERENCES webhooks (id),
    event text NOT NULL,
    payload jsonb NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, id) WHERE delivered_at IS NULL;
