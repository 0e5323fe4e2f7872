-- pgbench: the least a durable submission must write, the floor the server's
-- POST /api/v1/filings is measured against: the filing in its final state
-- (written once), its two approval steps and one audit row, in one
-- transaction. The filer's unit and path are read in the same statement that
-- writes the filing. Run on a database seeded by scripts/bench/seed.sql.
\set n random(400, 40000)
BEGIN;
INSERT INTO filings (id, account_id, unit_id, unit_path, status, kind, depart_on, return_on, draft,
                     requirement, current_step, steps, submitted_at)
  SELECT gen_random_uuid(), a.id, a.unit_id, u.path, 'pending', 'leave_jurisdiction', DATE '2027-06-01', DATE '2027-06-03',
         '{"kind": "leave_jurisdiction"}', 'approval', 1, 2, now()
  FROM accounts a JOIN units u ON u.id = a.unit_id WHERE a.id = md5('acct' || :n)::uuid
  RETURNING id \gset filing_
INSERT INTO filing_steps (filing_id, round, step, rule, candidates) VALUES
  (':filing_id', 0, 1, '{"kind": "department_head"}', ARRAY[md5('acct' || (1 + :n % 399))::uuid]),
  (':filing_id', 0, 2, '{"kind": "unit_principal"}', ARRAY[md5('acct2')::uuid]);
INSERT INTO audit_log (at, actor_id, entity, entity_id, action, data)
  VALUES (now(), md5('acct' || :n)::uuid, 'filing', ':filing_id', 'submit', '{}');
COMMIT;
