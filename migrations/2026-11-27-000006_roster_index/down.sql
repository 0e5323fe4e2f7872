DROP INDEX filings_trip_days_idx;
