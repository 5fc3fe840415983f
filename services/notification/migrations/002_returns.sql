-- Filings as read from qm.returns.filed.v1: the first one per unit and period counts (idempotent).
CREATE TABLE filings (
    unit_id     text NOT NULL,
    period_id   text NOT NULL,
    filed_at    timestamptz NOT NULL,
    event_id    text NOT NULL,
    PRIMARY KEY (unit_id, period_id)
);

-- Where every expected return stands; only the scheduler writes it.
CREATE TABLE return_states (
    unit_id     text NOT NULL,
    period_id   text NOT NULL,
    due_at      timestamptz NOT NULL,
    status      text NOT NULL,
    filed_at    timestamptz,
    reminded    boolean NOT NULL DEFAULT false,
    escalated   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (unit_id, period_id)
);

-- Each status reached once per return (the unique key), published once (emitted), in seq order.
CREATE TABLE return_transitions (
    seq         bigserial PRIMARY KEY,
    unit_id     text NOT NULL,
    period_id   text NOT NULL,
    status      text NOT NULL,
    event       bytea NOT NULL,
    emitted     boolean NOT NULL DEFAULT false,
    UNIQUE (unit_id, period_id, status)
);
CREATE INDEX return_transitions_unemitted ON return_transitions (seq) WHERE NOT emitted;
