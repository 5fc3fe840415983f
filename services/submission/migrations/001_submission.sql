CREATE TABLE submissions (
    submission_id  text PRIMARY KEY,
    unit_id        text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('reports', 'return')),
    received_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per report of a submission; state follows validation's verdicts.
CREATE TABLE submission_reports (
    submission_id  text NOT NULL REFERENCES submissions,
    position       int NOT NULL,
    report_id      text NOT NULL,
    version        int NOT NULL,
    event_id       text NOT NULL UNIQUE,
    state          text NOT NULL DEFAULT 'pending',
    issues         jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (submission_id, position)
);

-- Transactional outbox: written with the submission, published by the relay, then marked.
CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    topic         text NOT NULL,
    key           bytea,
    value         bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
