-- Versions the office sent back for correction, with the reason (GET /v1/reports/{id} shows them).
CREATE TABLE report_send_backs (
    unit_id    text NOT NULL,
    report_id  text NOT NULL,
    version    int NOT NULL,
    reason     text NOT NULL,
    event_id   text NOT NULL,
    sent_by    text NOT NULL,              -- the office token's id
    sent_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (unit_id, report_id, version)
);
