ALTER INDEX filing_steps_candidates_idx RESET (fastupdate);
