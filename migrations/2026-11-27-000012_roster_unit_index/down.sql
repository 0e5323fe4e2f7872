CREATE INDEX filings_trip_days_idx ON filings
  USING gist (daterange(depart_on, return_on, '[]'))
  WHERE status IN ('pending', 'approved', 'recorded', 'away', 'returned');
DROP INDEX filings_unit_away_idx;
DROP INDEX filings_unit_trip_days_idx;
