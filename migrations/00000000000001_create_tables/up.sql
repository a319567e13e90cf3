-- Stored events: one row per distinct (topic, event_id). The UNIQUE constraint is the
-- deduplication: the consumer inserts with ON CONFLICT (topic, event_id) DO NOTHING.
CREATE TABLE events (
    id              BIGSERIAL PRIMARY KEY,
    topic           TEXT        NOT NULL,
    event_id        TEXT        NOT NULL,
    source          TEXT        NOT NULL,
    event_timestamp TIMESTAMPTZ NOT NULL,
    payload         JSONB       NOT NULL DEFAULT '{}'::jsonb,
    kafka_partition INTEGER     NOT NULL,
    kafka_offset    BIGINT      NOT NULL,
    processed_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT events_topic_event_id_key UNIQUE (topic, event_id)
);
-- GET /events?topic=... pages by id within a topic, both directions.
CREATE INDEX events_topic_id_idx ON events (topic, id);

-- One row per (consumer group, Kafka topic, partition): the next offset not yet processed
-- and that partition's counters. Locked FOR UPDATE by every batch, so two consumers that
-- briefly own the same partition serialize, and counters move in the same transaction
-- as the rows they count.
CREATE TABLE partition_progress (
    consumer_group    TEXT        NOT NULL,
    kafka_topic       TEXT        NOT NULL,
    kafka_partition   INTEGER     NOT NULL,
    next_offset       BIGINT      NOT NULL DEFAULT 0,
    received          BIGINT      NOT NULL DEFAULT 0,
    unique_processed  BIGINT      NOT NULL DEFAULT 0,
    duplicate_dropped BIGINT      NOT NULL DEFAULT 0,
    invalid           BIGINT      NOT NULL DEFAULT 0,
    replayed          BIGINT      NOT NULL DEFAULT 0,
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, kafka_topic, kafka_partition),
    CONSTRAINT partition_progress_invariant
        CHECK (received = unique_processed + duplicate_dropped + invalid)
);

-- Per logical topic counters, kept per partition so that only the partition's owner (who
-- holds its progress lock) ever writes a row: no cross-partition lock contention.
CREATE TABLE topic_counters (
    consumer_group    TEXT    NOT NULL,
    kafka_topic       TEXT    NOT NULL,
    kafka_partition   INTEGER NOT NULL,
    topic             TEXT    NOT NULL,
    received          BIGINT  NOT NULL DEFAULT 0,
    unique_processed  BIGINT  NOT NULL DEFAULT 0,
    duplicate_dropped BIGINT  NOT NULL DEFAULT 0,
    replayed          BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (consumer_group, kafka_topic, kafka_partition, topic)
);

-- Records that could not be stored as events (not JSON, invalid, key/topic mismatch).
-- Written in the batch's transaction; they never block their partition.
CREATE TABLE dead_letters (
    id              BIGSERIAL PRIMARY KEY,
    consumer_group  TEXT        NOT NULL,
    kafka_topic     TEXT        NOT NULL,
    kafka_partition INTEGER     NOT NULL,
    kafka_offset    BIGINT      NOT NULL,
    record_key      BYTEA,
    record_value    BYTEA,
    error           TEXT        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT dead_letters_position_key UNIQUE (consumer_group, kafka_topic, kafka_partition, kafka_offset)
);
