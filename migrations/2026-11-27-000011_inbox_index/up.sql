-- The approver inbox searches this index on every read. With GIN's fast
-- update, new steps wait in a pending list that every search reads in full
-- until a vacuum or 4 MB of them merges it; inboxes slowed as submissions
-- came in (BENCHMARKS.md). The index holds undecided steps only, so merging
-- each insert at once costs little.
ALTER INDEX filing_steps_candidates_idx SET (fastupdate = off);
SELECT gin_clean_pending_list('filing_steps_candidates_idx'::regclass);
