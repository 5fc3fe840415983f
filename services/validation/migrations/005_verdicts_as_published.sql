-- A verdict is stored as the event it is published as, and read back only as that (issue 13): the
-- report, version, verdict and issues columns repeated what `event` holds, four more arrays to encode
-- and columns to write for every report. The view reads them out of the event, for people.
ALTER TABLE verdicts DROP COLUMN report_id, DROP COLUMN version, DROP COLUMN verdict, DROP COLUMN issues;
CREATE VIEW verdicts_read AS
    SELECT v.source_event_id, v.unit_id, e -> 'report' ->> 'report_id' AS report_id,
           (e -> 'report' ->> 'version')::int AS version, e ->> 'verdict' AS verdict,
           coalesce(e -> 'issues', '[]') AS issues, v.decided_at, v.seq
    FROM verdicts v CROSS JOIN LATERAL (SELECT convert_from(v.event, 'UTF8')::jsonb AS e) AS x;
