-- What the broker has not acknowledged, one row per published batch, deleted on its acknowledgement:
-- one small row per batch instead of an update of every verdict (a quarter of validation's
-- PostgreSQL time went to `UPDATE verdicts SET emitted`).
CREATE TABLE verdicts_unsent (
    batch      bigserial PRIMARY KEY,
    event_ids  text[] NOT NULL           -- source_event_id of the verdicts, in the order decided
);
INSERT INTO verdicts_unsent (event_ids)
    SELECT array_agg(source_event_id ORDER BY seq) FROM verdicts WHERE NOT emitted HAVING count(*) > 0;
ALTER TABLE verdicts DROP COLUMN emitted;
