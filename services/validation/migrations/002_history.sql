-- Replay order after a broker reset: the order verdicts were decided in.
ALTER TABLE verdicts ADD COLUMN seq bigserial;
CREATE UNIQUE INDEX verdicts_seq ON verdicts (seq);

-- The current accepted version of each report (only accepted verdicts write here): what the
-- duplicate rule compares titles and days with, and what the unit statistics are summed from.
CREATE TABLE validation_history (
    unit_id     text NOT NULL,
    report_id   text NOT NULL,
    version     int NOT NULL,
    title_key   text NOT NULL,
    day         date NOT NULL,
    metrics     jsonb NOT NULL,              -- metric_id -> value as a decimal string
    withdrawn   boolean NOT NULL,
    PRIMARY KEY (unit_id, report_id)
);
CREATE INDEX validation_history_title ON validation_history (unit_id, title_key, day) WHERE NOT withdrawn;

-- Per unit and metric, over the unit's current accepted reports: the outlier rule's baseline.
CREATE TABLE validation_unit_stats (
    unit_id     text NOT NULL,
    metric_id   text NOT NULL,
    reports     int NOT NULL,
    total       numeric NOT NULL,
    PRIMARY KEY (unit_id, metric_id)
);
