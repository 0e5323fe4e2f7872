-- A district the size of the one in the report: 133 units with three
-- departments each, 40,000 accounts across ranks, and 500,000 earlier filings.
-- Parameters: :password_hash (an argon2 hash every account gets).
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO units (id, code, name, kind, path)
VALUES ('00000000-0000-0000-0000-000000000001', 'district', 'District', 'jurisdiction', ARRAY['00000000-0000-0000-0000-000000000001'::uuid]);

INSERT INTO units (id, code, name, kind, parent_id, path)
SELECT u.id, 'unit-' || u.n, 'Unit ' || u.n, 'unit', '00000000-0000-0000-0000-000000000001',
       ARRAY['00000000-0000-0000-0000-000000000001'::uuid, u.id]
FROM (SELECT n, md5('unit' || n)::uuid AS id FROM generate_series(1, 133) n) u;

INSERT INTO units (id, code, name, kind, parent_id, path)
SELECT d.id, 'unit-' || d.u || '-dept-' || d.k, 'Department ' || d.k, 'department', md5('unit' || d.u)::uuid,
       ARRAY['00000000-0000-0000-0000-000000000001'::uuid, md5('unit' || d.u)::uuid, d.id]
FROM (SELECT u, k, md5('dept' || u || '-' || k)::uuid AS id FROM generate_series(1, 133) u, generate_series(1, 3) k) d;

-- 40,000 accounts: account n sits in department (n % 399); the first of each
-- department heads it; the unit principals are the first accounts of dept 1.
INSERT INTO accounts (id, login, display_name, unit_id, employee_no, rank, position, party_member, public_official, key_post, password_hash)
SELECT md5('acct' || n)::uuid, 'user' || n, 'User ' || n,
       md5('dept' || ((n % 399) / 3 + 1) || '-' || ((n % 399) % 3 + 1))::uuid, 'E' || n,
       (ARRAY['clerk', 'section', 'division', 'bureau'])[1 + (n % 7 = 0)::int + (n % 31 = 0)::int + (n % 97 = 0)::int],
       CASE WHEN n <= 399 THEN 'department_head' ELSE 'staff' END,
       n % 3 <> 0, true, n % 50 = 0, :'password_hash'
FROM generate_series(1, 40000) n;

UPDATE units d SET principal_id = md5('acct' || n)::uuid
FROM generate_series(1, 399) n
WHERE d.id = md5('dept' || ((n % 399) / 3 + 1) || '-' || ((n % 399) % 3 + 1))::uuid;
UPDATE units u SET principal_id = d.principal_id
FROM units d WHERE d.parent_id = u.id AND d.code LIKE '%-dept-1';

INSERT INTO policies (unit_id, version, rules) VALUES ('00000000-0000-0000-0000-000000000001', 1, '[
 {"id": "staff", "applies_to": {"positions": ["staff"]}, "requirement": "approval",
  "approvers": [{"kind": "department_head"}, {"kind": "unit_principal"}], "form": "online",
  "notice": {"days": 3, "working_days": true}, "return_report": {"required": true, "within_hours": 24}},
 {"id": "others", "requirement": "report", "form": "online", "notice": {"days": 1, "working_days": false}}
]');

-- 500,000 filings over 2026: trips before 2 May returned (one in ten of the
-- last week's still away), later ones approved; every 100th is still pending
-- at step 1 with the department head (the approver inboxes); the others were
-- approved by the department head and then the unit principal.
INSERT INTO filings (id, account_id, unit_id, unit_path, status, kind, depart_on, return_on, draft, requirement,
                     current_step, steps, submitted_at, approved_at, created_at)
SELECT md5('filing' || f)::uuid, a.id, a.unit_id, u.path,
       CASE WHEN f % 100 = 0 THEN 'pending'
            WHEN day > DATE '2026-05-02' THEN 'approved'
            WHEN f % 10 = 1 AND day >= DATE '2026-04-25' THEN 'away'
            ELSE 'returned' END,
       'leave_jurisdiction', day, day + (f % 5),
       jsonb_build_object('kind', 'leave_jurisdiction', 'purpose', 'tourism', 'reason', 'earlier trip',
                          'destinations', jsonb_build_array(jsonb_build_object('code', '320500')),
                          'depart_on', day, 'return_on', day + (f % 5), 'contact_phone', '13800138000'),
       'approval', CASE WHEN f % 100 = 0 THEN 1 END, 2, now(),
       CASE WHEN f % 100 <> 0 THEN (day - 2)::timestamptz END, now()
FROM generate_series(1, 500000) f
CROSS JOIN LATERAL (SELECT DATE '2026-01-01' + (f % 360) AS day) d
JOIN accounts a ON a.id = md5('acct' || (400 + f % 39600))::uuid
JOIN units u ON u.id = a.unit_id;

INSERT INTO filing_steps (filing_id, round, step, rule, candidates)
SELECT f.id, 0, 1, '{"kind": "department_head"}', ARRAY[d.principal_id]
FROM filings f JOIN units d ON d.id = f.unit_id
WHERE f.status = 'pending';

-- The decided filings keep their two decided steps, as filing them leaves.
INSERT INTO filing_steps (filing_id, round, step, rule, candidates, decision, decided_by, decided_at)
SELECT f.id, 0, s.step, s.rule, ARRAY[s.approver], 'approved', s.approver, (f.depart_on - 2)::timestamptz
FROM filings f
JOIN units d ON d.id = f.unit_id
JOIN units u ON u.id = d.parent_id
CROSS JOIN LATERAL (VALUES (1, '{"kind": "department_head"}'::jsonb, d.principal_id),
                           (2, '{"kind": "unit_principal"}'::jsonb, u.principal_id)) s(step, rule, approver)
WHERE f.status <> 'pending';
COMMIT;
ANALYZE;
