-- Accounts, their users and the bearer tokens they hold. Secrets are stored only as hashes.
CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  default_region TEXT NOT NULL DEFAULT 'US',
  rate_limits TEXT NOT NULL DEFAULT '{}',      -- JSON: group -> per-minute limit overrides
  max_connections INTEGER NOT NULL DEFAULT 20,
  is_platform INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  username TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('platform_admin', 'owner', 'member')),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX users_username ON users(username COLLATE NOCASE);
CREATE INDEX users_account ON users(account_id);

CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  kind TEXT NOT NULL CHECK (kind IN ('session', 'api')),
  name TEXT,
  token_hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT,
  revoked_at TEXT
);
CREATE UNIQUE INDEX tokens_hash ON tokens(token_hash);
CREATE INDEX tokens_user ON tokens(user_id, kind);
