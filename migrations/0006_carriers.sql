-- Real carriers (Twilio, Telnyx): where an answered campaign call is handed over, where a
-- click-to-call rings its agent, which caller id a call presents, answering-machine detection
-- and the outcomes a campaign retries, and what a carrier said about an SMS.

-- The account's agent platform: the carrier asks it for call instructions when a campaign call is answered.
ALTER TABLE accounts ADD COLUMN agent_answer_url TEXT;

-- Where a click-to-call rings the agent first: a SIP URI or a phone number (E.164).
ALTER TABLE extensions ADD COLUMN sip_uri TEXT;
ALTER TABLE extensions ADD COLUMN forward_to TEXT;

-- At most one default caller id per account (otherwise the oldest is used).
ALTER TABLE caller_ids ADD COLUMN is_default INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX caller_ids_default ON caller_ids(account_id) WHERE is_default = 1;

-- The number a campaign's calls present (resolved when it is created), machine detection, and
-- the outcomes its retry policy retries (JSON array).
ALTER TABLE autocall_campaigns ADD COLUMN caller_id TEXT;
ALTER TABLE autocall_campaigns ADD COLUMN machine_detection INTEGER NOT NULL DEFAULT 0;
ALTER TABLE autocall_campaigns ADD COLUMN retry_on TEXT NOT NULL DEFAULT '["no_answer","busy"]';

-- The carrier's id for a call or a message, and why a message failed.
CREATE INDEX calls_provider_call ON calls(provider_call_id) WHERE provider_call_id IS NOT NULL;
ALTER TABLE sms_messages ADD COLUMN provider_message_id TEXT;
ALTER TABLE sms_messages ADD COLUMN failure_reason TEXT;
ALTER TABLE sms_messages ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sms_messages ADD COLUMN next_attempt_at TEXT;
CREATE INDEX sms_queued ON sms_messages(next_attempt_at) WHERE status = 'queued';
