-- Dead letters are kept too: a memory-only broker that restarts would otherwise lose them, and a
-- redelivered poison record finds itself here instead of being dead-lettered twice.
CREATE TABLE dead_letters (
    event_id      text PRIMARY KEY,
    source_topic  text NOT NULL,
    source_partition int NOT NULL,
    source_offset bigint NOT NULL,
    raw_sha256    text NOT NULL,           -- offsets restart after a broker reset; content tells records apart
    event         bytea NOT NULL,          -- the DeadLettered event as published
    emitted       boolean NOT NULL DEFAULT false,
    seq           bigserial UNIQUE,
    UNIQUE (source_topic, source_partition, source_offset, raw_sha256)
);
