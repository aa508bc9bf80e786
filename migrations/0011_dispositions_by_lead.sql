-- Deleting leads deletes their dispositions (the bulk delete and a campaign's delete name them
-- by lead_id, and the foreign key cascades by it): without an index on lead_id, each deleted
-- lead read the whole dispositions table.
CREATE INDEX dispositions_lead ON dispositions(lead_id);
