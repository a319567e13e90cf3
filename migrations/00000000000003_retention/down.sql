ALTER TABLE events RESET (autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor);
DROP TABLE admin_deletes;
DROP TABLE retention_status;
DROP INDEX events_topic_processed_at_idx;
DROP TABLE retention_policies;
ALTER TABLE topic_counters DROP COLUMN expired, DROP COLUMN deleted;
