ALTER TABLE topic_counters DROP COLUMN first_event_at, DROP COLUMN last_event_at,
    DROP COLUMN last_stored_at;
DROP INDEX dead_letters_pending_idx;
ALTER TABLE dead_letters DROP COLUMN retried_at;
DROP INDEX events_payload_idx;
DROP INDEX events_search_trgm_idx;
DROP INDEX events_event_timestamp_idx;
DROP INDEX events_source_id_idx;
DROP INDEX events_topic_tx_id_idx;
DROP INDEX events_tx_id_idx;
ALTER TABLE events DROP COLUMN tx;
