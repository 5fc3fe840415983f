-- Who hears about alerts outside the screen: seeded from QM_NOTIFICATION_WEBHOOKS_FILE.
CREATE TABLE webhooks (
    unit_id     text PRIMARY KEY,
    url         text NOT NULL,
    secret      text NOT NULL
);
CREATE TABLE email_recipients (
    unit_id     text NOT NULL,
    address     text NOT NULL,
    PRIMARY KEY (unit_id, address)
);

-- The delivery queue: one row per alert, channel and target; survives restarts, dead after N failures.
CREATE TABLE deliveries (
    delivery_id     text PRIMARY KEY,
    alert_id        text NOT NULL REFERENCES alerts (alert_id),
    channel         text NOT NULL,          -- webhook | email
    recipient       text NOT NULL,          -- unit id or 'office'
    target          text NOT NULL,          -- URL or e-mail address
    status          text NOT NULL DEFAULT 'pending',  -- pending | delivered | dead | cancelled
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    delivered_at    timestamptz,
    UNIQUE (alert_id, channel, target)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';

ALTER TABLE alerts ADD COLUMN acked_by text;
CREATE INDEX alerts_unemitted ON alerts (raised_at) WHERE NOT emitted;
