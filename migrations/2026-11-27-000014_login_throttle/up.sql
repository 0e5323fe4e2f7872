-- A throttle bucket forgets its failures once a whole window passes without
-- one, and a slowed-down login waits from its last failure: the bucket keeps
-- when that was (src/throttle.rs names the buckets and their limits).
ALTER TABLE login_throttle RENAME COLUMN window_started_at TO last_failure_at;
