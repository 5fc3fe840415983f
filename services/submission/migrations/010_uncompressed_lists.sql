-- A request's lists (its event ids, its reports, the verdicts on them) are written once and read
-- rarely: stored out of line but not compressed. pglz compressing them was a visible part of
-- PostgreSQL's CPU in a deadline rush (issue 13: with validation's 006, 0.053 -> 0.048-0.050 ms of
-- PostgreSQL CPU per report in alternating runs). Rows stored before stay as they are.
ALTER TABLE outbox ALTER COLUMN event_ids SET STORAGE EXTERNAL;
ALTER TABLE submission_report_lists ALTER COLUMN reports SET STORAGE EXTERNAL;
ALTER TABLE verdict_lists ALTER COLUMN verdicts SET STORAGE EXTERNAL;
