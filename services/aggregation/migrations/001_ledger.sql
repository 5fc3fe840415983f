-- The current accepted version of every report: the truth totals are rebuilt from.
CREATE TABLE ledger (
    unit_id        text NOT NULL,
    report_id      text NOT NULL,
    version        int NOT NULL,
    district_id    text,
    focus_area     text NOT NULL,
    day            date NOT NULL,
    title          text NOT NULL,
    metrics        jsonb NOT NULL,          -- metric_id -> scaled integer (amounts in hundredths)
    withdrawn      boolean NOT NULL DEFAULT false,
    campaign_time  timestamptz NOT NULL,
    PRIMARY KEY (unit_id, report_id)
);
