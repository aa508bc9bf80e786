-- Failure paths: a provider's reason for refusing a call, the pacer's acknowledgement of a
-- call's end (so the cron can hand it outcomes it missed), and the config version a
-- campaign's pacer runs (so the cron can re-apply a PATCH whose hand-over failed).

ALTER TABLE calls ADD COLUMN failure_reason TEXT;
ALTER TABLE calls ADD COLUMN pacer_closed_at TEXT;
CREATE INDEX calls_unreconciled ON calls(ended_at)
  WHERE kind = 'campaign' AND ended_at IS NOT NULL AND pacer_closed_at IS NULL;

ALTER TABLE autocall_campaigns ADD COLUMN pacer_version INTEGER NOT NULL DEFAULT 0;

-- The minute cron's scans: click-to-calls still queued or open, campaign calls still open.
CREATE INDEX calls_queued_click_to_call ON calls(created_at) WHERE kind = 'click_to_call' AND status = 'queued';
CREATE INDEX calls_open_click_to_call ON calls(created_at) WHERE kind = 'click_to_call' AND ended_at IS NULL;
CREATE INDEX calls_open_campaign ON calls(created_at) WHERE kind = 'campaign' AND ended_at IS NULL;

-- Event ids are unique per provider, not across providers: a dialer event and an SMS report
-- that happen to share an id must not dedupe each other.
CREATE TABLE provider_events_by_provider (
  provider TEXT NOT NULL,
  event_id TEXT NOT NULL,
  received_at TEXT NOT NULL,
  PRIMARY KEY (provider, event_id)
);
INSERT INTO provider_events_by_provider (provider, event_id, received_at) SELECT provider, event_id, received_at FROM provider_events;
DROP TABLE provider_events;
ALTER TABLE provider_events_by_provider RENAME TO provider_events;
CREATE INDEX provider_events_received ON provider_events(received_at);
