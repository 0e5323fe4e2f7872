DROP INDEX filings_ledger_order_idx;
DROP INDEX filings_trip_length_idx;
DROP INDEX filings_ledger_window_idx;
