-- Filings, return states, transitions and alerts belong to one campaign (its year): period ids (W1,
-- ...) and alert dedup keys ('overdue:pudong:W1') repeat every year, so another year's campaign on
-- the same database must neither read these rows nor collide with them. Rows stored before this
-- migration belong to the campaign of the year their return was due (alerts: the year they were
-- raised), read in the campaign's time zone so that the server's zone cannot move a row.
ALTER TABLE return_states ADD COLUMN campaign int;
UPDATE return_states SET campaign = extract(year FROM due_at AT TIME ZONE 'Asia/Shanghai')::int;

-- A filing's return has a state from the first scheduler tick on; one without falls back to its own time.
ALTER TABLE filings ADD COLUMN campaign int;
UPDATE filings f SET campaign = coalesce(
    (SELECT s.campaign FROM return_states s WHERE s.unit_id = f.unit_id AND s.period_id = f.period_id),
    extract(year FROM f.filed_at AT TIME ZONE 'Asia/Shanghai')::int);

-- A transition keeps its due time only in the stored event.
ALTER TABLE return_transitions ADD COLUMN campaign int;
UPDATE return_transitions SET campaign = extract(
    year FROM (convert_from(event, 'UTF8')::jsonb ->> 'due_at')::timestamptz AT TIME ZONE 'Asia/Shanghai')::int;

ALTER TABLE alerts ADD COLUMN campaign int;
UPDATE alerts SET campaign = extract(year FROM raised_at AT TIME ZONE 'Asia/Shanghai')::int;

ALTER TABLE return_states ALTER COLUMN campaign SET NOT NULL;
ALTER TABLE return_states DROP CONSTRAINT return_states_pkey, ADD PRIMARY KEY (campaign, unit_id, period_id);
ALTER TABLE filings ALTER COLUMN campaign SET NOT NULL;
ALTER TABLE filings DROP CONSTRAINT filings_pkey, ADD PRIMARY KEY (campaign, unit_id, period_id);
ALTER TABLE return_transitions ALTER COLUMN campaign SET NOT NULL;
ALTER TABLE return_transitions DROP CONSTRAINT return_transitions_unit_id_period_id_status_key,
    ADD UNIQUE (campaign, unit_id, period_id, status);
ALTER TABLE alerts ALTER COLUMN campaign SET NOT NULL;
ALTER TABLE alerts DROP CONSTRAINT alerts_dedup_key_key, ADD UNIQUE (campaign, dedup_key);
