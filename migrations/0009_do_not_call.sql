-- The do-not-call list itself lives in each account's ContactLedger Durable Object (with the
-- attempt counts it is checked with at dial time), not in D1. What D1 keeps is the hand-over of
-- a lead's `do_not_call` disposition to that list: the disposition and this row commit in one
-- transaction, the row is deleted once the ledger has the number, and the minute cron hands
-- over any row still here. A disposition that committed therefore always ends up listed.
CREATE TABLE dnc_outbox (
  -- The disposition's id.
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  phone TEXT NOT NULL,
  reason TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX dnc_outbox_created ON dnc_outbox(created_at);
