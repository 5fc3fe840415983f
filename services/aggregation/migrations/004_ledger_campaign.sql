-- Every report belongs to one campaign (its year), so another year's campaign on the same database
-- neither mixes with this one nor collides with its report ids. Reports stored before this
-- migration belong to the campaign of the year they took place in (one campaign per year).
ALTER TABLE ledger ADD COLUMN campaign int;
UPDATE ledger SET campaign = extract(year FROM day)::int;
ALTER TABLE ledger ALTER COLUMN campaign SET NOT NULL;
ALTER TABLE ledger DROP CONSTRAINT ledger_pkey;
ALTER TABLE ledger ADD PRIMARY KEY (campaign, unit_id, report_id);
DROP INDEX ledger_campaign_time;
CREATE INDEX ledger_campaign_time ON ledger (campaign, campaign_time DESC);
