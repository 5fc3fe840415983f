-- Idempotency-Key: the first answer given for (unit, key), and what body it answered.
CREATE TABLE idempotency_keys (
    unit_id     text NOT NULL,
    key         text NOT NULL,
    body_hash   text NOT NULL,               -- sha256 of endpoint + canonical JSON body
    answer      jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (unit_id, key)
);

-- The highest version of each report this service accepted: equal or lower versions are no-ops.
CREATE TABLE report_versions (
    unit_id    text NOT NULL,
    report_id  text NOT NULL,
    version    int NOT NULL,
    PRIMARY KEY (unit_id, report_id)
);

-- Links an outbox row to its event, so a broker reset can re-queue what downstream never settled.
ALTER TABLE outbox ADD COLUMN event_id text;
CREATE INDEX outbox_event ON outbox (event_id);
CREATE INDEX submission_reports_pending ON submission_reports (event_id) WHERE state = 'pending';
CREATE INDEX submissions_unit ON submissions (unit_id);
