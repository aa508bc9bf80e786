-- leads_account (account_id) served no query well: a lead is found by its id (the primary key),
-- its campaign's phone (leads_phone) or its campaign's status (leads_by_status), always with the
-- account checked beside it. Its one user, the bulk delete (`account_id = ? AND id IN (...)`),
-- read every lead of the account through it; without it that delete goes by the primary key.
-- Every lead written paid for it: about 4% of SQLite's time inserting 100,000 leads. The
-- foreign key to accounts stays: it is checked on insert by the accounts primary key, and an
-- account row is never deleted (which is what an index on the child column would speed up).
DROP INDEX leads_account;
