DROP TABLE admin_deletes;
DROP TABLE retention_status;
DROP INDEX events_topic_processed_at_idx;
DROP TABLE retention_policies;
ALTER TABLE topic_counters DROP COLUMN expired, DROP COLUMN deleted;
