-- A request's reports as one row (issue 13), and the verdicts a follower batch brings for one
-- submission as one row: a 500-report request wrote 500 report rows and then 500 verdict rows, each
-- with its index entry, where it now writes one of each (a few per follower batch).
-- Each list is JSON text, parsed only when read (`GET /v1/submissions/{id}`, the archive, a reset).
CREATE TABLE submission_report_lists (
    submission_id  text PRIMARY KEY REFERENCES submissions,
    -- [{"r": report_id, "v": version, "e": event_id, "s": state, "i": issues}], in request order
    reports        json NOT NULL
);
-- Verdicts are facts: the same one may come twice (a replay after a broker reset), never two for
-- one event; readers take any row's.
CREATE TABLE verdict_lists (
    submission_id  text NOT NULL,
    verdicts       json NOT NULL  -- [{"e": source event_id, "s": state, "i": issues}]
);
CREATE INDEX verdict_lists_submission ON verdict_lists (submission_id);

-- Rows stored before keep their state: the verdict applied to them, or the one they were given.
INSERT INTO submission_report_lists (submission_id, reports)
SELECT r.submission_id,
       json_agg(json_build_object('r', r.report_id, 'v', r.version, 'e', r.event_id,
                                  's', coalesce(v.state, r.state), 'i', coalesce(v.issues, r.issues)) ORDER BY r.position)
FROM submission_reports r LEFT JOIN report_verdicts v ON v.event_id = r.event_id
GROUP BY r.submission_id;
DROP TABLE report_verdicts;
DROP TABLE submission_reports;

-- Each report of each submission with its state now: its verdict's once one came, else its own
-- ('pending', or 'accepted' for a stale version the door decided itself). A submission's verdicts
-- are gathered once (joined before its reports are unnested), then looked up by event id.
CREATE VIEW submission_reports AS
SELECT l.submission_id, x.n - 1 AS position, x.r AS report_id, x.v AS version, x.e AS event_id,
       coalesce(d.verdicts -> x.e ->> 's', x.s) AS state, coalesce(d.verdicts -> x.e -> 'i', x.i) AS issues
FROM submission_report_lists l
LEFT JOIN LATERAL (
    SELECT jsonb_object_agg(y.e, jsonb_build_object('s', y.s, 'i', y.i)) AS verdicts
    FROM verdict_lists vl CROSS JOIN LATERAL json_to_recordset(vl.verdicts) AS y(e text, s text, i jsonb)
    WHERE vl.submission_id = l.submission_id) AS d ON true
CROSS JOIN LATERAL ROWS FROM (json_to_recordset(l.reports) AS (r text, v int, e text, s text, i jsonb))
    WITH ORDINALITY AS x(r, v, e, s, i, n);
