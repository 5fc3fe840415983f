-- One verdict per submitted event: redelivery finds it here and changes nothing downstream.
CREATE TABLE verdicts (
    source_event_id  text PRIMARY KEY,
    unit_id          text NOT NULL,
    report_id        text NOT NULL,
    version          int NOT NULL,
    verdict          text NOT NULL,
    issues           jsonb NOT NULL DEFAULT '[]',
    event            bytea NOT NULL,          -- the ReportValidated event as published
    emitted          boolean NOT NULL DEFAULT false,
    decided_at       timestamptz NOT NULL DEFAULT now()
);
