-- What the broker has not acknowledged: one row per published batch, deleted on its acknowledgement
-- (one small row per batch instead of an update of every verdict: a quarter of validation's
-- PostgreSQL time went to `UPDATE verdicts SET emitted`); after a broker reset, one row for the
-- range of every verdict decided before it, moved forward as its pages are acknowledged.
CREATE TABLE verdicts_unsent (
    batch      bigserial PRIMARY KEY,
    event_ids  text[],                   -- a batch: source_event_id of its verdicts
    after_seq  bigint,                   -- or a range: the verdicts with after_seq < seq <= upto_seq
    upto_seq   bigint,
    CHECK ((event_ids IS NULL) = (after_seq IS NOT NULL AND upto_seq IS NOT NULL))
);
INSERT INTO verdicts_unsent (event_ids)
    SELECT array_agg(source_event_id ORDER BY seq) FROM verdicts WHERE NOT emitted HAVING count(*) > 0;
ALTER TABLE verdicts DROP COLUMN emitted;
