-- Automated call campaigns ("batch calls"), their contact snapshot, and contact folders.
-- The campaign's Durable Object owns pacing; these rows are the record it keeps up to date.

CREATE TABLE contact_folders (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  name TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX contact_folders_account ON contact_folders(account_id, created_at, id);

CREATE TABLE contacts (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  folder_id TEXT NOT NULL REFERENCES contact_folders(id),
  phone TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  attributes TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX contacts_phone ON contacts(folder_id, phone);

CREATE TABLE autocall_campaigns (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  name TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  contact_source TEXT NOT NULL CHECK (contact_source IN ('folder', 'inline')),
  contact_folder_id TEXT,
  schedule_type TEXT NOT NULL CHECK (schedule_type IN ('immediate', 'scheduled')),
  scheduled_at TEXT,
  timezone TEXT NOT NULL,
  start_time TEXT NOT NULL,
  end_time TEXT NOT NULL,
  working_days TEXT NOT NULL,
  max_concurrent_calls INTEGER NOT NULL,
  max_calls_per_day INTEGER,
  retry_failed INTEGER NOT NULL DEFAULT 0,
  max_retry_attempts INTEGER NOT NULL DEFAULT 0,
  retry_delay_seconds INTEGER NOT NULL DEFAULT 300,
  status TEXT NOT NULL CHECK (status IN ('draft', 'scheduled', 'active', 'paused', 'completed', 'cancelled', 'failed')),
  -- When the campaign's object next needs waking; the cron sweep wakes those past due.
  next_wake_at TEXT,
  version INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX autocall_campaigns_account ON autocall_campaigns(account_id, created_at, id);
CREATE INDEX autocall_campaigns_due ON autocall_campaigns(status, next_wake_at);

CREATE TABLE campaign_contacts (
  id TEXT PRIMARY KEY,
  campaign_id TEXT NOT NULL REFERENCES autocall_campaigns(id),
  account_id TEXT NOT NULL,
  phone TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  position INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  last_outcome TEXT
);
CREATE INDEX campaign_contacts_campaign ON campaign_contacts(campaign_id, position);

-- Provider callbacks already applied, for dedupe by event id.
CREATE TABLE provider_events (
  event_id TEXT PRIMARY KEY,
  provider TEXT NOT NULL,
  received_at TEXT NOT NULL
);

CREATE UNIQUE INDEX calls_campaign_attempt ON calls(campaign_id, contact_id, attempt) WHERE campaign_id IS NOT NULL;
