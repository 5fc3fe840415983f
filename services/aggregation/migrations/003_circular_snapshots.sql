-- Signed circulars: the reports a snapshot was drafted from, pinned as they were (later
-- corrections change the ledger, never these rows), so every figure stays traceable.
CREATE TABLE circular_snapshot (
    snapshot_id      text PRIMARY KEY,
    campaign         int NOT NULL,             -- the campaign year the snapshot belongs to
    taken_at         timestamptz NOT NULL DEFAULT now(),
    taken_by         text NOT NULL,            -- the unit id of the token that took it
    as_of            timestamptz,              -- campaign time of the newest report pinned
    previous_totals  jsonb                     -- the previous campaign's totals then (scaled), or null
);
CREATE INDEX circular_snapshot_taken ON circular_snapshot (campaign, taken_at DESC);

CREATE TABLE circular_snapshot_report (
    snapshot_id    text NOT NULL REFERENCES circular_snapshot ON DELETE CASCADE,
    unit_id        text NOT NULL,
    report_id      text NOT NULL,
    version        int NOT NULL,
    district_id    text,
    focus_area     text NOT NULL,
    day            date NOT NULL,
    title          text NOT NULL,
    metrics        jsonb NOT NULL,             -- metric_id -> scaled integer, as in the ledger
    campaign_time  timestamptz NOT NULL,
    PRIMARY KEY (snapshot_id, unit_id, report_id)
);
