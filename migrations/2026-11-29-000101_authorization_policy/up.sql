-- The authorization policy's data: webhooks carry the scope of their creator,
-- and a travel document's scope follows its holder's current unit.

-- A webhook receives only events about filings inside its subtree; NULL is the
-- whole tree. Existing webhooks take their creator's system administrator grant.
ALTER TABLE webhooks ADD COLUMN unit_id uuid REFERENCES units (id);
UPDATE webhooks w
   SET unit_id = (SELECT g.unit_id FROM role_grants g
                   WHERE g.account_id = w.created_by AND g.role = 'system_admin'
                   ORDER BY g.unit_id NULLS FIRST LIMIT 1)
 WHERE w.created_by IS NOT NULL;

-- Custody follows the holder: when an account moves, its documents' scope
-- moves with it, so the old unit's admins lose them and the new unit's gain them.
CREATE FUNCTION travel_documents_follow_holder() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE travel_documents
       SET unit_path = COALESCE((SELECT path FROM units WHERE id = NEW.unit_id), '{}')
     WHERE account_id = NEW.id;
    RETURN NEW;
END
$$;
CREATE TRIGGER travel_documents_follow_holder
    AFTER UPDATE OF unit_id ON accounts
    FOR EACH ROW WHEN (NEW.unit_id IS DISTINCT FROM OLD.unit_id)
    EXECUTE FUNCTION travel_documents_follow_holder();

UPDATE travel_documents d
   SET unit_path = u.path
  FROM accounts a JOIN units u ON u.id = a.unit_id
 WHERE a.id = d.account_id AND d.unit_path <> u.path;
