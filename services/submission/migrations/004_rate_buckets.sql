-- Per-unit token buckets shared by every submission replica (services/submission/ratelimit.py).
-- Unlogged: no WAL per request; a crash only refills the buckets.
CREATE UNLOGGED TABLE rate_buckets (
    unit_id      text PRIMARY KEY,
    tokens       float8 NOT NULL,
    refilled_at  timestamptz NOT NULL,
    granted      boolean NOT NULL
);
