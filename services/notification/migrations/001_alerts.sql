-- Each alert once: the dedup key (e.g. 'overdue:pudong:W1') survives restarts.
CREATE TABLE alerts (
    alert_id    text PRIMARY KEY,
    dedup_key   text NOT NULL UNIQUE,
    kind        text NOT NULL,
    unit_id     text,
    period_id   text,
    raised_at   timestamptz NOT NULL,
    message_zh  text NOT NULL,
    message_en  text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}',
    acked_at    timestamptz,
    event       bytea NOT NULL,
    emitted     boolean NOT NULL DEFAULT false
);
CREATE INDEX alerts_unit ON alerts (unit_id, kind);
