-- PBX objects, calls and telesales. Every row carries its account_id and every query filters on it.
-- Versioned rows (`version`) back ETag / If-Match: an update is a compare-and-set on version.

CREATE TABLE extensions (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  extension TEXT NOT NULL,
  name TEXT NOT NULL,
  user_id TEXT REFERENCES users(id),
  caller_id TEXT,
  enabled INTEGER NOT NULL DEFAULT 1,
  version INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX extensions_number ON extensions(account_id, extension);

CREATE TABLE caller_ids (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  number TEXT NOT NULL,
  label TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX caller_ids_number ON caller_ids(account_id, number);

CREATE TABLE queues (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  name TEXT NOT NULL,
  strategy TEXT NOT NULL,
  extensions TEXT NOT NULL DEFAULT '[]',
  created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX queues_name ON queues(account_id, name);

CREATE TABLE calls (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  kind TEXT NOT NULL CHECK (kind IN ('click_to_call', 'campaign')),
  campaign_id TEXT,
  contact_id TEXT,
  attempt INTEGER NOT NULL DEFAULT 1,
  from_extension TEXT,
  to_phone TEXT NOT NULL,
  caller_id TEXT,
  status TEXT NOT NULL,
  outcome TEXT,
  provider_call_id TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  started_at TEXT,
  answered_at TEXT,
  ended_at TEXT,
  duration_seconds INTEGER
);
CREATE INDEX calls_account ON calls(account_id, created_at, id);

CREATE TABLE telesales_campaigns (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL CHECK (status IN ('draft', 'active', 'paused', 'archived')),
  version INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX telesales_campaigns_account ON telesales_campaigns(account_id, created_at, id);

CREATE TABLE leads (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  campaign_id TEXT NOT NULL REFERENCES telesales_campaigns(id),
  phone TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  email TEXT,
  status TEXT NOT NULL,
  notes TEXT NOT NULL DEFAULT '',
  attributes TEXT NOT NULL DEFAULT '{}',
  version INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX leads_phone ON leads(campaign_id, phone);
CREATE INDEX leads_by_status ON leads(campaign_id, status, created_at, id);
CREATE INDEX leads_account ON leads(account_id);

CREATE TABLE dispositions (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  lead_id TEXT NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
  call_id TEXT NOT NULL,
  outcome TEXT NOT NULL,
  notes TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL
);
-- A disposition is recorded at most once per call.
CREATE UNIQUE INDEX dispositions_call ON dispositions(account_id, call_id);

-- The last guard of Idempotency-Key: a create writes its claim in the same transaction as the
-- resource, so a retry after a crash finds the resource instead of creating a second one.
CREATE TABLE idempotency_claims (
  account_id TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  PRIMARY KEY (account_id, idempotency_key)
);
CREATE INDEX idempotency_claims_expiry ON idempotency_claims(expires_at);

-- Bulk-import reports, so that a retried import (same Idempotency-Key) answers with the same report.
CREATE TABLE lead_imports (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  campaign_id TEXT NOT NULL,
  report TEXT NOT NULL,
  created_at TEXT NOT NULL
);
