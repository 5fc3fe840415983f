-- Read positions live in the shared inbox's tracking records (shared/migrations/inbox): this table
-- of the group-less loop that came before is no longer read or written.
DROP TABLE consumer_offsets;
