-- Contact policy (SPEC "Contact policy and calling-hours compliance"), part A: the account's
-- policy document, recipients' own time zones, and what a campaign's pacer runs.

-- One row per account once its policy was first PUT; an account without a row has the
-- defaults (no recipient hours, unknown zones use the campaign's, no frequency cap) at version 0.
CREATE TABLE contact_policies (
  account_id TEXT PRIMARY KEY REFERENCES accounts(id),
  -- HH:MM local to the recipient, [start, end); both null: no recipient hours.
  recipient_hours_start TEXT,
  recipient_hours_end TEXT,
  unknown_timezone TEXT NOT NULL CHECK (unknown_timezone IN ('campaign', 'skip')),
  -- Both null: no frequency cap.
  max_attempts_count INTEGER,
  max_attempts_days INTEGER,
  version INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  CHECK ((recipient_hours_start IS NULL) = (recipient_hours_end IS NULL)),
  CHECK ((max_attempts_count IS NULL) = (max_attempts_days IS NULL))
);

-- The policy version a campaign's pacer runs, so the cron can hand a newer one to a pacer the
-- PUT did not reach (as pacer_version does for a PATCH).
ALTER TABLE autocall_campaigns ADD COLUMN pacer_policy_version INTEGER NOT NULL DEFAULT 0;

-- A recipient's own IANA zone, when given; null: derived from the number.
ALTER TABLE contacts ADD COLUMN timezone TEXT;
ALTER TABLE campaign_contacts ADD COLUMN timezone TEXT;
ALTER TABLE leads ADD COLUMN timezone TEXT;

-- Why a campaign contact ended `skipped` without a call (e.g. unknown_timezone).
ALTER TABLE campaign_contacts ADD COLUMN skip_reason TEXT;
