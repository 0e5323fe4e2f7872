DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE delegations;
DROP TABLE filing_events;
DROP TABLE filing_extensions;
DROP TABLE filing_steps;
DROP TABLE filings;
