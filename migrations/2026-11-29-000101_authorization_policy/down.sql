DROP TRIGGER travel_documents_follow_holder ON accounts;
DROP FUNCTION travel_documents_follow_holder();
ALTER TABLE webhooks DROP COLUMN unit_id;
