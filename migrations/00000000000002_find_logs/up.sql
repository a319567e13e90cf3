-- Finding logs (issue 12): the commit-order cursor, the search indexes, dead-letter retries and
-- per-topic time bounds. Each index's write cost is measured by `make bench` (docs/PERFORMANCE.md).

-- pg_trgm is a trusted extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The transaction that stored the row. Row ids are drawn before commit, so concurrent consumers
-- commit out of id order; a reader following new rows orders by (tx, id) and reads only below
-- the snapshot horizon (every transaction under it has ended), where no row can appear later.
-- Rows stored before this migration all get the migration's own transaction id, which is fine:
-- they are below every later horizon.
ALTER TABLE events ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX events_tx_id_idx ON events (tx, id);
-- order=asc (publish order) within a topic, and a topic-filtered follower.
CREATE INDEX events_topic_tx_id_idx ON events (topic, tx, id);
-- source=...
CREATE INDEX events_source_id_idx ON events (source, id);
-- from=/to= (event time).
CREATE INDEX events_event_timestamp_idx ON events (event_timestamp);
-- q=... : case-insensitive substring over the source and the payload's JSON text.
CREATE INDEX events_search_trgm_idx ON events
    USING gin ((source || ' ' || payload::text) gin_trgm_ops);
-- payload={...} : JSON containment (@>).
CREATE INDEX events_payload_idx ON events USING gin (payload jsonb_path_ops);

-- Dead letters re-published by POST /dead-letters/{id}/retry.
ALTER TABLE dead_letters ADD COLUMN retried_at TIMESTAMPTZ;
-- GET /dead-letters pages by id, newest first; the stats read the oldest pending one.
CREATE INDEX dead_letters_pending_idx ON dead_letters (created_at) WHERE retried_at IS NULL;

-- Per-topic event-time bounds and last store time, maintained by the consumer in the batch's
-- transaction, so GET /topics never scans events.
ALTER TABLE topic_counters
    ADD COLUMN first_event_at TIMESTAMPTZ,
    ADD COLUMN last_event_at  TIMESTAMPTZ,
    ADD COLUMN last_stored_at TIMESTAMPTZ;
UPDATE topic_counters tc
   SET first_event_at = b.first_event_at, last_event_at = b.last_event_at,
       last_stored_at = b.last_stored_at
  FROM (SELECT kafka_partition, topic, min(event_timestamp) AS first_event_at,
               max(event_timestamp) AS last_event_at, max(processed_at) AS last_stored_at
          FROM events GROUP BY kafka_partition, topic) b
 WHERE tc.kafka_partition = b.kafka_partition AND tc.topic = b.topic;
