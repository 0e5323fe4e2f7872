-- The roster asks which trips cover a day: a GiST index over each live
-- trip's days finds them without reading every filing of the subtree.
CREATE INDEX filings_trip_days_idx ON filings
  USING gist (daterange(depart_on, return_on, '[]'))
  WHERE status IN ('pending', 'approved', 'recorded', 'away', 'returned');
