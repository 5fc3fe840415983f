-- A batch's event ids live until the broker acknowledges the batch: stored out of line but not
-- compressed (pglz on them, and on submission's lists, was a visible part of PostgreSQL's CPU in a
-- deadline rush; issue 13, submission's migration 010). Rows stored before stay as they are.
ALTER TABLE verdicts_unsent ALTER COLUMN event_ids SET STORAGE EXTERNAL;
