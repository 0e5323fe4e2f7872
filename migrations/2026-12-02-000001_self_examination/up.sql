-- Self-examination: the person concerned explains a discrepancy, inspectors and
-- admins then confirm it (a violation) or clear it (the explanation accepted).
-- Each step is kept as an append-only event, and the person is notified when a
-- discrepancy about them opens.

ALTER TABLE discrepancies
    DROP CONSTRAINT discrepancies_status_check,
    ADD CONSTRAINT discrepancies_status_check
        CHECK (status IN ('open', 'explained', 'confirmed', 'cleared')),
    ADD COLUMN cleared_by uuid REFERENCES accounts (id),
    ADD COLUMN cleared_at timestamptz;

CREATE TABLE discrepancy_events (
    id bigserial PRIMARY KEY,
    discrepancy_id uuid NOT NULL REFERENCES discrepancies (id),
    at timestamptz NOT NULL DEFAULT now(),
    actor_id uuid NOT NULL REFERENCES accounts (id),
    action text NOT NULL CHECK (action IN ('opened', 'explained', 'confirmed', 'cleared')),
    from_status text CHECK (from_status IN ('open', 'explained', 'confirmed', 'cleared')),
    to_status text NOT NULL CHECK (to_status IN ('open', 'explained', 'confirmed', 'cleared')),
    note text
);
CREATE INDEX discrepancy_events_discrepancy_idx ON discrepancy_events (discrepancy_id, id);

-- The history is evidence in a disciplinary matter: it is never rewritten.
CREATE FUNCTION discrepancy_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'discrepancy_events is append-only: % refused', TG_OP;
END;
$$;
CREATE TRIGGER discrepancy_events_no_update
    BEFORE UPDATE OR DELETE ON discrepancy_events
    FOR EACH ROW EXECUTE FUNCTION discrepancy_events_append_only();
CREATE TRIGGER discrepancy_events_no_truncate
    BEFORE TRUNCATE ON discrepancy_events
    FOR EACH STATEMENT EXECUTE FUNCTION discrepancy_events_append_only();

-- The history of the discrepancies found before: each was opened by the run
-- that found it, and explained and confirmed as its columns say. A
-- confirmation's comment lived only in the audit chain. Inserted step by step
-- so that each discrepancy's events stand in order.
INSERT INTO discrepancy_events (discrepancy_id, at, actor_id, action, from_status, to_status)
SELECT d.id, d.created_at, r.run_by, 'opened', NULL, 'open'
  FROM discrepancies d JOIN reconciliations r ON r.id = d.reconciliation_id
 ORDER BY d.created_at, d.id;
INSERT INTO discrepancy_events (discrepancy_id, at, actor_id, action, from_status, to_status, note)
SELECT d.id, d.explained_at, d.explained_by, 'explained', 'open', 'explained', d.explanation
  FROM discrepancies d
 WHERE d.explained_at IS NOT NULL AND d.explained_by IS NOT NULL
 ORDER BY d.explained_at, d.id;
INSERT INTO discrepancy_events (discrepancy_id, at, actor_id, action, from_status, to_status, note)
SELECT d.id, d.confirmed_at, d.confirmed_by, 'confirmed',
       CASE WHEN d.explained_at IS NOT NULL AND d.explained_at <= d.confirmed_at
            THEN 'explained' ELSE 'open' END,
       'confirmed',
       (SELECT a.data ->> 'note' FROM audit_log a
         WHERE a.entity = 'discrepancy' AND a.entity_id = d.id AND a.action = 'confirm'
         ORDER BY a.id DESC LIMIT 1)
  FROM discrepancies d
 WHERE d.confirmed_at IS NOT NULL AND d.confirmed_by IS NOT NULL
 ORDER BY d.confirmed_at, d.id;

ALTER TABLE notifications
    DROP CONSTRAINT notifications_kind_check,
    ADD CONSTRAINT notifications_kind_check
        CHECK (kind IN ('approval_requested', 'filing_decided', 'extension_decided', 'return_report_due',
                        'return_overdue', 'discrepancy_opened'));
