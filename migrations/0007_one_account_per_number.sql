-- Added after 0006 had been applied locally, so a new migration rather than an edit (IF NOT EXISTS:
-- an early local 0006 created these two itself).

-- Carriers report on a message by their own id.
CREATE INDEX IF NOT EXISTS sms_provider_message ON sms_messages(provider_message_id) WHERE provider_message_id IS NOT NULL;

-- A number presents one account only: every tenant dials through the operator's one carrier
-- account, where another tenant's number would be accepted as From. Before 0007 a number was
-- unique per account only: where two accounts hold the same number this index cannot be
-- created and the migration stops, on purpose, since only the operator can say whose it is.
-- Find them with
--   SELECT number, group_concat(account_id) FROM caller_ids GROUP BY number HAVING count(*) > 1;
-- and delete the caller id from the accounts that do not own the number, then apply again.
CREATE UNIQUE INDEX IF NOT EXISTS caller_ids_number_everywhere ON caller_ids(number);
