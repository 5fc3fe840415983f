-- Where this service has read each input partition, stored in the same transaction as the effect
-- of the records read (no consumer group: one instance, restarts resume at once, nothing twice).
CREATE TABLE consumer_offsets (
    topic       text NOT NULL,
    partition   int NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);
