-- The version of everything a filer's context is read from: the filer's
-- account, the units above it with their leaders and deputies, role grants,
-- policies, special periods and the calendar. Every statement that changes
-- one of those tables counts it up, in its own transaction, so a server that
-- reads the count before it reads a context knows whether a context it keeps
-- is still true, whichever server made the change.
CREATE TABLE context_version (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    n bigint NOT NULL
);
INSERT INTO context_version (only_row, n) VALUES (true, 1);

CREATE FUNCTION context_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE context_version SET n = n + 1;
    RETURN NULL;
END;
$$;

-- Before the statement, so the count's row is locked before the statement's
-- own rows are.
CREATE TRIGGER accounts_context_version BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION context_version_bump();
CREATE TRIGGER units_context_version BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON units
    FOR EACH STATEMENT EXECUTE FUNCTION context_version_bump();
CREATE TRIGGER unit_deputies_context_version BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON unit_deputies
    FOR EACH STATEMENT EXECUTE FUNCTION context_version_bump();
CREATE TRIGGER role_grants_context_version BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON role_grants
    FOR EACH STATEMENT EXECUTE FUNCTION context_version_bump();
CREATE TRIGGER policies_context_version BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON policies
    FOR EACH STATEMENT EXECUTE FUNCTION context_version_bump();
CREATE TRIGGER special_periods_context_version BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON special_periods
    FOR EACH STATEMENT EXECUTE FUNCTION context_version_bump();
CREATE TRIGGER calendar_years_context_version BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON calendar_years
    FOR EACH STATEMENT EXECUTE FUNCTION context_version_bump();
CREATE TRIGGER calendar_days_context_version BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON calendar_days
    FOR EACH STATEMENT EXECUTE FUNCTION context_version_bump();
