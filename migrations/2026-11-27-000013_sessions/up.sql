-- Sessions. A login starts one; its refresh tokens are one family whose id is
-- the session's (refresh_tokens.family_id), and every access token names it,
-- so ending the session stops both at once. created_at, last_used_at (the
-- last refresh), user_agent and address are what a list of one's sessions
-- shows.
CREATE TABLE sessions (
    id uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    user_agent text CHECK (char_length(user_agent) <= 512),
    address text CHECK (char_length(address) <= 64),
    ended_at timestamptz
);
CREATE INDEX sessions_account_idx ON sessions (account_id) WHERE ended_at IS NULL;

-- Every existing family becomes a session, ended unless it still holds a
-- usable token.
INSERT INTO sessions (id, account_id, created_at, last_used_at, ended_at)
SELECT family_id, account_id, min(created_at), max(created_at),
       CASE WHEN bool_or(spent_at IS NULL AND revoked_at IS NULL AND expires_at > now())
            THEN NULL ELSE max(coalesce(revoked_at, spent_at, created_at)) END
FROM refresh_tokens
GROUP BY family_id, account_id;

ALTER TABLE refresh_tokens
    ADD CONSTRAINT refresh_tokens_family_id_fkey
    FOREIGN KEY (family_id) REFERENCES sessions (id) ON DELETE CASCADE;
