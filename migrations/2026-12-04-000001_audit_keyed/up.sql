-- The audit chain becomes keyed: each row's hash is an HMAC-SHA256 under the
-- server's audit key (WHEREABOUTS_AUDIT_KEY), which the database never sees.
-- Every row is unsealed here, keeping its transaction id and its content, so
-- the server re-seals the whole chain under the key at its next sealing (the
-- worker seals every round; `whereabouts audit verify` seals first), in
-- transaction order as before. Verify the chain with the previous release
-- before upgrading: what it held is re-sealed as it is.
ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update;
UPDATE audit_log SET seq = NULL, prev_hash = NULL, hash = NULL;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update;

-- When the worker last published a checkpoint of the chain as a webhook
-- event, so that replicas sharing the database publish one per interval.
CREATE TABLE audit_checkpoints (
    at timestamptz PRIMARY KEY,
    seq bigint NOT NULL,
    hash bytea NOT NULL,
    signature text NOT NULL
);
