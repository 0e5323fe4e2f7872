-- The ledger over filings (never drafts) whose trips overlap a window.
-- Counting reads only this index: departure and return bound the window
-- (with the longest trip giving the departure's lower bound), and the
-- columns the flags and the scope need are included.
CREATE INDEX filings_ledger_window_idx ON filings (depart_on, return_on)
  INCLUDE (unit_id, status, submitted_at, submit_by, approved_at, requirement)
  WHERE status <> 'draft';
-- The longest trip, found at the end of this index.
CREATE INDEX filings_trip_length_idx ON filings ((return_on - depart_on))
  WHERE status <> 'draft';
-- Pages, newest departure first.
CREATE INDEX filings_ledger_order_idx ON filings (depart_on DESC NULLS LAST, id DESC)
  WHERE status <> 'draft';
