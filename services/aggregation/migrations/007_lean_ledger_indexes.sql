-- Every ledger index is paid on each accepted report (issue 13). Only the first refresh after a start
-- asks for the newest campaign time, and it reads the whole campaign then anyway: a scan serves it.
DROP INDEX IF EXISTS ledger_campaign_time;
-- Rows are written in change order, so a block range index finds "changed after n" for a fraction
-- of a btree's upkeep; it also leaves corrections free to update in place (HOT, PostgreSQL 16+).
DROP INDEX IF EXISTS ledger_changed;
CREATE INDEX ledger_changed ON ledger USING brin (changed_seq);
