-- The returns board and the alert feed belong to one campaign (its year), as the ledger does: period
-- ids (W1, ...) repeat every year, so another year's campaign on the same database must not read
-- these rows. Rows stored before this migration belong to the campaign of the year their return was
-- due (alerts: the year they were raised), read in the campaign's time zone.
ALTER TABLE return_state ADD COLUMN campaign int;
UPDATE return_state SET campaign = extract(year FROM due_at AT TIME ZONE 'Asia/Shanghai')::int;
ALTER TABLE return_state ALTER COLUMN campaign SET NOT NULL;
ALTER TABLE return_state DROP CONSTRAINT return_state_pkey, ADD PRIMARY KEY (campaign, unit_id, period_id);

ALTER TABLE alert_feed ADD COLUMN campaign int;
UPDATE alert_feed SET campaign = extract(year FROM raised_at AT TIME ZONE 'Asia/Shanghai')::int;
ALTER TABLE alert_feed ALTER COLUMN campaign SET NOT NULL;
DROP INDEX alert_feed_raised;
CREATE INDEX alert_feed_raised ON alert_feed (campaign, raised_at DESC);
