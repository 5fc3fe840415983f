-- The latest state of every expected return (unit x period), as the notification service reports it.
CREATE TABLE return_state (
    unit_id     text NOT NULL,
    period_id   text NOT NULL,
    status      text NOT NULL,
    rank        int NOT NULL,            -- not_due 0, overdue 1, escalated 2, filed 3: states only move up
    due_at      timestamptz NOT NULL,
    filed_at    timestamptz,
    event_time  timestamptz NOT NULL,    -- campaign time of the event that set this state
    PRIMARY KEY (unit_id, period_id)
);

-- Alerts seen on qm.alerts.raised.v1, for the live view's snapshot; the id makes redelivery a no-op.
CREATE TABLE alert_feed (
    alert_id       text PRIMARY KEY,
    kind           text NOT NULL,
    unit_id        text,
    period_id      text,
    raised_at      timestamptz NOT NULL,
    message_zh     text NOT NULL,
    message_en     text NOT NULL,
    campaign_time  timestamptz NOT NULL,
    received_at    double precision NOT NULL
);
CREATE INDEX alert_feed_raised ON alert_feed (raised_at DESC);

-- The activity feed reads the newest accepted reports after a restart.
CREATE INDEX ledger_campaign_time ON ledger (campaign_time DESC);
