CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END;
$$;
DROP INDEX audit_log_unsealed_idx;
ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update;
DELETE FROM audit_log WHERE seq IS NULL;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update;
ALTER TABLE audit_log
    DROP CONSTRAINT audit_log_sealed_whole,
    DROP COLUMN seq,
    DROP COLUMN xid,
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN hash SET NOT NULL,
    ALTER COLUMN id DROP DEFAULT;
DROP SEQUENCE audit_log_id_seq;
