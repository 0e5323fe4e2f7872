DELETE FROM notifications WHERE kind = 'discrepancy_opened';
ALTER TABLE notifications
    DROP CONSTRAINT notifications_kind_check,
    ADD CONSTRAINT notifications_kind_check
        CHECK (kind IN ('approval_requested', 'filing_decided', 'extension_decided', 'return_report_due',
                        'return_overdue'));

DROP TABLE discrepancy_events;
DROP FUNCTION discrepancy_events_append_only();

-- Before clearing existed, an accepted explanation stayed explained.
UPDATE discrepancies SET status = 'explained' WHERE status = 'cleared';
ALTER TABLE discrepancies
    DROP CONSTRAINT discrepancies_status_check,
    ADD CONSTRAINT discrepancies_status_check CHECK (status IN ('open', 'explained', 'confirmed')),
    DROP COLUMN cleared_at,
    DROP COLUMN cleared_by;
