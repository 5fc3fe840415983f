-- Every index is paid on each accepted report; these served only the rare broker-reset replay,
-- which can scan instead.
DROP INDEX IF EXISTS outbox_event;
DROP INDEX IF EXISTS submission_reports_pending;
DROP INDEX IF EXISTS submissions_unit;
