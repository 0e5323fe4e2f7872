-- The roster asks which trips of a unit's members cover a day. Searching the
-- whole district's trips over the day and the unit's filings of every day
-- apart, then intersecting them, read thousands of index entries for a few
-- dozen rows; an index over node and trip days, and one over those still away
-- by node, find just the rows (BENCHMARKS.md). btree_gist is a trusted
-- extension: the database's owner may create it.
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE INDEX filings_unit_trip_days_idx ON filings
  USING gist (unit_id, daterange(depart_on, return_on, '[]'))
  WHERE status IN ('pending', 'approved', 'recorded', 'away', 'returned');
CREATE INDEX filings_unit_away_idx ON filings (unit_id, depart_on) WHERE status = 'away';
DROP INDEX filings_trip_days_idx;
