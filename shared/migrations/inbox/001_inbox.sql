-- Tracking records of shared.inbox: per consumer group and partition, the next offset to read in the
-- broker's current epoch, written in the same transaction as the handler's effects.
CREATE TABLE IF NOT EXISTS inbox_tracking (
    consumer_group text NOT NULL,
    topic          text NOT NULL,
    partition      int NOT NULL,
    epoch          text NOT NULL,
    next_offset    bigint NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);

-- Records a consumer could not handle (undecodable, or failing after its retries): kept so a broker
-- reset cannot lose them, published to the service's dead-letter topic.
CREATE TABLE IF NOT EXISTS inbox_dead_letters (
    event_id         text PRIMARY KEY,
    consumer_group   text NOT NULL,
    source_topic     text NOT NULL,
    source_partition int NOT NULL,
    source_offset    bigint NOT NULL,
    epoch            text NOT NULL,
    event            bytea NOT NULL,        -- the DeadLettered event as published
    emitted          boolean NOT NULL DEFAULT false,
    seq              bigserial UNIQUE,
    UNIQUE (consumer_group, source_topic, source_partition, source_offset, epoch)
);
