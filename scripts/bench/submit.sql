-- pgbench: the SQL of one submission as the server runs it (the filer's
-- context, the filing, its steps, two events, notifications, the outbox
-- check and the unsealed audit rows), in one transaction.
\set n random(400, 40000)
BEGIN;
SELECT id, unit_id, rank, position FROM accounts WHERE id = md5('acct' || :n)::uuid;
SELECT unit_id, status, credentials_changed_at FROM accounts WHERE id = md5('acct' || :n)::uuid;
SELECT role, unit_id FROM role_grants WHERE account_id = md5('acct' || :n)::uuid;
SELECT path FROM units WHERE id = (SELECT unit_id FROM accounts WHERE id = md5('acct' || :n)::uuid);
SELECT DISTINCT ON (unit_id) unit_id, version, rules FROM policies
  WHERE unit_id = ANY((SELECT path FROM units WHERE id = (SELECT unit_id FROM accounts WHERE id = md5('acct' || :n)::uuid))::uuid[])
  ORDER BY unit_id, version DESC;
SELECT * FROM special_periods WHERE unit_id = ANY((SELECT path FROM units WHERE id = (SELECT unit_id FROM accounts WHERE id = md5('acct' || :n)::uuid))::uuid[]);
SELECT * FROM units WHERE id = ANY((SELECT path FROM units WHERE id = (SELECT unit_id FROM accounts WHERE id = md5('acct' || :n)::uuid))::uuid[]);
SELECT * FROM unit_deputies WHERE unit_id = ANY((SELECT path FROM units WHERE id = (SELECT unit_id FROM accounts WHERE id = md5('acct' || :n)::uuid))::uuid[]);
SELECT id, display_name, status FROM accounts WHERE id IN (SELECT principal_id FROM units WHERE id = ANY((SELECT path FROM units WHERE id = (SELECT unit_id FROM accounts WHERE id = md5('acct' || :n)::uuid))::uuid[]));
SELECT year FROM calendar_years;
SELECT date, year, kind, name FROM calendar_days;
INSERT INTO filings (id, account_id, unit_id, unit_path, status, kind, depart_on, return_on, draft)
  SELECT gen_random_uuid(), a.id, a.unit_id, u.path, 'draft', 'leave_jurisdiction', DATE '2027-06-01', DATE '2027-06-03', '{"kind": "leave_jurisdiction"}'
  FROM accounts a JOIN units u ON u.id = a.unit_id WHERE a.id = md5('acct' || :n)::uuid
  RETURNING id \gset filing_
INSERT INTO filing_events (filing_id, actor_id, action, to_status) VALUES (':filing_id', md5('acct' || :n)::uuid, 'create', 'draft');
INSERT INTO audit_log (at, actor_id, entity, entity_id, action, data)
  VALUES (now(), md5('acct' || :n)::uuid, 'filing', ':filing_id', 'create', '{}');
SELECT * FROM filings WHERE id = ':filing_id' FOR UPDATE;
INSERT INTO filing_steps (filing_id, round, step, rule, candidates) VALUES (':filing_id', 0, 1, '{"kind": "department_head"}', ARRAY[md5('acct' || (1 + :n % 399))::uuid]);
INSERT INTO filing_steps (filing_id, round, step, rule, candidates) VALUES (':filing_id', 0, 2, '{"kind": "unit_principal"}', ARRAY[md5('acct2')::uuid]);
UPDATE filings SET status = 'pending', current_step = 1, steps = 2, submitted_at = now(), version = version + 1 WHERE id = ':filing_id';
SELECT candidates FROM filing_steps WHERE filing_id = ':filing_id' AND round = 0 AND step = 1;
INSERT INTO notifications (id, account_id, kind, filing_id) VALUES (gen_random_uuid(), md5('acct' || (1 + :n % 399))::uuid, 'approval_requested', ':filing_id');
SELECT id, events FROM webhooks WHERE deleted_at IS NULL;
INSERT INTO filing_events (filing_id, actor_id, action, from_status, to_status) VALUES (':filing_id', md5('acct' || :n)::uuid, 'submit', 'draft', 'pending');
INSERT INTO audit_log (at, actor_id, entity, entity_id, action, data)
  VALUES (now(), md5('acct' || :n)::uuid, 'filing', ':filing_id', 'submit', '{}');
COMMIT;
