-- A read-only role for wall screens: reads the totals, the stream and the screen, nothing else.
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_role_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check CHECK (role IN ('unit', 'district', 'office', 'viewer'));
