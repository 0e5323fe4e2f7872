-- A second factor: each account's TOTP secret, sealed under the document key,
-- and its recovery codes, stored hashed.

CREATE TABLE mfa_totp (
    account_id uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    -- nonce || ChaCha20-Poly1305 ciphertext of the raw secret, bound to the account.
    secret bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- NULL while enrolment waits for its first code.
    confirmed_at timestamptz,
    -- The last 30-second step whose code was accepted: no code is taken twice.
    last_step bigint
);

CREATE TABLE mfa_recovery_codes (
    id uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- SHA-256 of the account id and the normalised code.
    code_hash bytea NOT NULL UNIQUE,
    used_at timestamptz
);
CREATE INDEX mfa_recovery_codes_account_idx ON mfa_recovery_codes (account_id);
