-- The audit trail of admin actions: who (token id and role), when, what and why. Append-only:
-- rows can be added, never changed or removed (a trigger refuses UPDATE, DELETE and TRUNCATE).
CREATE TABLE audit_log (
    seq         bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    text NOT NULL,           -- token id (first 12 hex of its hash), or 'cli', or a service name
    actor_role  text NOT NULL,           -- office, district, unit, operator (the CLI), system
    action      text NOT NULL,           -- token.issue, token.revoke, report.send_back, alert.ack, ...
    target      text,
    reason      text,
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_action ON audit_log (action, seq);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
