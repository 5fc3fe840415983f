CREATE TABLE api_tokens (
    token_hash  text PRIMARY KEY,            -- sha256 of the token; the token itself is never stored
    unit_id     text NOT NULL,
    role        text NOT NULL CHECK (role IN ('unit', 'district', 'office')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_tokens_unit ON api_tokens (unit_id);

