-- The audit chain off the hot path: a transaction appends its rows without a
-- hash (no lock, ids from a sequence); the worker seals finished transactions'
-- rows into the chain in order, giving each a chain position and its hash.
CREATE SEQUENCE audit_log_id_seq OWNED BY audit_log.id;
SELECT setval('audit_log_id_seq', coalesce((SELECT max(id) FROM audit_log), 0) + 1, false);
ALTER TABLE audit_log
    ALTER COLUMN id SET DEFAULT nextval('audit_log_id_seq'),
    ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    ADD COLUMN seq bigint UNIQUE,
    ALTER COLUMN prev_hash DROP NOT NULL,
    ALTER COLUMN hash DROP NOT NULL,
    ADD CONSTRAINT audit_log_sealed_whole CHECK ((seq IS NULL) = (hash IS NULL) AND (seq IS NULL) = (prev_hash IS NULL));
-- Rows written before this migration were sealed in id order.
ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update;
UPDATE audit_log SET seq = id;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update;
CREATE INDEX audit_log_unsealed_idx ON audit_log (xid, id) WHERE seq IS NULL;

-- Sealing is the one change a row may see: from unsealed to sealed, nothing else.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL
       AND NEW.id = OLD.id AND NEW.at = OLD.at AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id
       AND NEW.entity = OLD.entity AND NEW.entity_id IS NOT DISTINCT FROM OLD.entity_id
       AND NEW.action = OLD.action AND NEW.data = OLD.data AND NEW.xid = OLD.xid THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END;
$$;
