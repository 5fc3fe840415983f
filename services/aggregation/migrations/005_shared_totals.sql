-- Totals every replica serves whole: each replica folds the partitions it owns into the ledger and
-- these cells in one transaction; every replica follows the changes by their sequence number.
CREATE SEQUENCE aggregation_change_seq;
ALTER TABLE ledger ADD COLUMN changed_seq bigint NOT NULL DEFAULT 0;
CREATE INDEX ledger_changed ON ledger (changed_seq);
CREATE TABLE total_cells (
    campaign     int NOT NULL,           -- the campaign year, as in the ledger
    unit_id      text NOT NULL,
    district     text NOT NULL,          -- '' when the report names no district
    focus_area   text NOT NULL,
    day          text NOT NULL,
    metric       text NOT NULL,
    value        bigint NOT NULL,        -- scaled integer (amounts in hundredths)
    changed_seq  bigint NOT NULL,
    PRIMARY KEY (campaign, unit_id, district, focus_area, day, metric)
);
CREATE INDEX total_cells_changed ON total_cells (changed_seq);
INSERT INTO total_cells
SELECT l.campaign, l.unit_id, coalesce(l.district_id, ''), l.focus_area, l.day::text, m.key, sum(m.value::bigint), 0
FROM ledger l CROSS JOIN LATERAL jsonb_each_text(l.metrics) m
WHERE NOT l.withdrawn
GROUP BY 1, 2, 3, 4, 5, 6;
