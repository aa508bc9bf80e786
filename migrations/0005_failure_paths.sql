-- Failure paths: a provider's reason for refusing a call, the pacer's acknowledgement of a
-- call's end (so the cron can hand it outcomes it missed), and the config version a
-- campaign's pacer runs (so the cron can re-apply a PATCH whose hand-over failed).

ALTER TABLE calls ADD COLUMN failure_reason TEXT;
ALTER TABLE calls ADD COLUMN pacer_closed_at TEXT;
CREATE INDEX calls_unreconciled ON calls(ended_at)
  WHERE kind = 'campaign' AND ended_at IS NOT NULL AND pacer_closed_at IS NULL;

ALTER TABLE autocall_campaigns ADD COLUMN pacer_version INTEGER NOT NULL DEFAULT 0;
