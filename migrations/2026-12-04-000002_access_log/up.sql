-- The access log: who read whereabouts in bulk, and every sign-in, failed
-- sign-in and refused authorization, with the request's filters, the rows it
-- answered, the client's address and the request id. Append-only: UPDATE and
-- TRUNCATE are refused, and DELETE too but of entries older than 180 days
-- (the retention sweep's), so no setting can keep less than that.
CREATE TABLE access_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor_id uuid,
    action text NOT NULL,
    target text,
    filters jsonb NOT NULL DEFAULT '{}',
    rows bigint,
    address text,
    request_id text,
    -- The subtrees the entry is about (empty: the whole tree), for readers
    -- of the log within their scope.
    units uuid[] NOT NULL DEFAULT '{}'
);
CREATE INDEX access_log_at_idx ON access_log (at);
CREATE INDEX access_log_actor_idx ON access_log (actor_id, at);

CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.at < now() - interval '180 days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'access_log is append-only: % refused', TG_OP;
END;
$$;
CREATE TRIGGER access_log_no_change BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();
