-- Retention and storage lifecycle (issue 13): policies, the enforcer's status, the audit of
-- admin deletes and the counters that keep `unique_processed = rows + expired + deleted` exact.

-- Rows removed by retention (`expired`) and by admin deletes (`deleted`), counted in the same
-- transaction as the DELETE, beside the other per-topic counters.
ALTER TABLE topic_counters
    ADD COLUMN expired BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN deleted BIGINT NOT NULL DEFAULT 0;

-- Retention per event topic. The row of topic '*' (not a valid topic name) is the default for
-- topics without a row of their own; no '*' row = keep forever unless a topic says otherwise.
-- retention_seconds NULL = keep forever (a topic exempted from the default).
CREATE TABLE retention_policies (
    topic             TEXT        PRIMARY KEY,
    retention_seconds BIGINT      CHECK (retention_seconds IS NULL OR retention_seconds > 0),
    updated_by        TEXT        NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Age is measured on the stored time (processed_at): event timestamps come from clients and
-- can be wrong or in the future. The enforcer deletes oldest first within a topic.
CREATE INDEX events_topic_processed_at_idx ON events (topic, processed_at);

-- The one enforcer's status (the consumer holding the retention advisory lock writes it).
CREATE TABLE retention_status (
    id               INTEGER     PRIMARY KEY CHECK (id = 1),
    holder           TEXT        NOT NULL,
    last_run_at      TIMESTAMPTZ NOT NULL,
    last_run_removed BIGINT      NOT NULL,
    removed_total    BIGINT      NOT NULL,
    -- How far the oldest row due for removal is past its policy, at the end of the last run.
    lag_ms           BIGINT      NOT NULL,
    last_error       TEXT
);

-- One row per admin delete: who asked, the filter, how many rows went, when.
CREATE TABLE admin_deletes (
    id           BIGSERIAL   PRIMARY KEY,
    requested_by TEXT        NOT NULL,
    filter       JSONB       NOT NULL,
    deleted      BIGINT      NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Retention deletes all the time: vacuum `events` once 2 % of it changed (the default 20 %
-- lets a large table carry a fifth of dead rows before their space is reused), so its size
-- levels off at a steady rate (the soak in docs/RETENTION.md).
ALTER TABLE events SET (autovacuum_vacuum_scale_factor = 0.02,
                        autovacuum_analyze_scale_factor = 0.02);
