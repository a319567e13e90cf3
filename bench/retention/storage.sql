-- Storage design for retention (issue 13), measured: today's `events` table with bounded
-- batched DELETEs (design A) against `events` range-partitioned by stored time, where
-- retention drops whole partitions (design B). A partitioned table's UNIQUE must include the
-- partition key, so B keeps deduplication across partitions in a separate key table
-- `b_keys (topic, event_id) PRIMARY KEY` that itself needs batched DELETEs.
--
-- Run by scripts/bench-retention-storage.sh (psql -v rows=N -v remove=M). Every figure is
-- printed as a NOTICE line `figure: <name> = <value>`. Both tables get the same rows: ids
-- 1..rows, stored one every 25 ms (so 10,000,000 rows span ~69 h), 40 topics, and the
-- production btree indexes (the two GIN search indexes are left out of both, for time).
\set ON_ERROR_STOP on
SET client_min_messages = notice;

DROP TABLE IF EXISTS a_events, b_events, b_keys, bench_params CASCADE;
DROP FUNCTION IF EXISTS bench_stored, bench_size CASCADE;
DROP PROCEDURE IF EXISTS bench_ingest, bench_remove, bench_queries, bench_size_figure CASCADE;
-- psql variables do not reach inside $$ bodies: the row count lives in a table.
CREATE TABLE bench_params AS SELECT :rows::bigint AS rows;

CREATE TABLE a_events (
    id BIGSERIAL PRIMARY KEY, topic TEXT NOT NULL, event_id TEXT NOT NULL, source TEXT NOT NULL,
    event_timestamp TIMESTAMPTZ NOT NULL, payload JSONB NOT NULL DEFAULT '{}',
    kafka_partition INT NOT NULL, kafka_offset BIGINT NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(), tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
    CONSTRAINT a_events_key UNIQUE (topic, event_id));

CREATE TABLE b_events (
    id BIGSERIAL, topic TEXT NOT NULL, event_id TEXT NOT NULL, source TEXT NOT NULL,
    event_timestamp TIMESTAMPTZ NOT NULL, payload JSONB NOT NULL DEFAULT '{}',
    kafka_partition INT NOT NULL, kafka_offset BIGINT NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(), tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
    PRIMARY KEY (id, processed_at)) PARTITION BY RANGE (processed_at);
CREATE TABLE b_keys (topic TEXT NOT NULL, event_id TEXT NOT NULL,
                     processed_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (topic, event_id));

-- The stored time of row g: the last row is "now".
CREATE FUNCTION bench_stored(g bigint, total bigint) RETURNS timestamptz LANGUAGE sql IMMUTABLE
    AS $$ SELECT timestamptz '2026-11-26 00:00:00+00' - (total - g) * interval '25 milliseconds' $$;

-- Hourly partitions covering the span, plus one ahead for new rows.
DO $$
DECLARE h timestamptz;
BEGIN
    FOR h IN SELECT generate_series(date_trunc('hour', bench_stored(1, (SELECT rows FROM bench_params))),
                                    timestamptz '2026-11-26 02:00:00+00', interval '1 hour') LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF b_events FOR VALUES FROM (%L) TO (%L)',
                       'b_events_' || to_char(h, 'YYYYMMDDHH24'), h, h + interval '1 hour');
    END LOOP;
END $$;

\echo loading :rows rows into each design
SELECT clock_timestamp() AS t0 \gset
INSERT INTO a_events (id, topic, event_id, source, event_timestamp, payload, kafka_partition,
                      kafka_offset, processed_at)
SELECT g, 'svc.' || (g % 40), 'e-' || g, 'host-' || (g % 25),
       timestamptz '2026-11-01 00:00:00+00' + g * interval '12 seconds',
       jsonb_build_object('level', 'info', 'user', g % 5000, 'msg', 'request ' || md5(g::text)),
       0, g, bench_stored(g, :rows)
FROM generate_series(1, :rows) g;
SELECT setval('a_events_id_seq', :rows);
INSERT INTO b_events (id, topic, event_id, source, event_timestamp, payload, kafka_partition,
                      kafka_offset, processed_at)
SELECT id, topic, event_id, source, event_timestamp, payload, kafka_partition, kafka_offset,
       processed_at FROM a_events;
SELECT setval('b_events_id_seq', :rows);
INSERT INTO b_keys SELECT topic, event_id, processed_at FROM a_events;
-- The read indexes, the same on both designs (one list, so the comparison stays fair).
DO $$
DECLARE
  design text;
  columns text;
BEGIN
  FOREACH design IN ARRAY ARRAY['a_events', 'b_events'] LOOP
    FOREACH columns IN ARRAY ARRAY['topic, id', 'tx, id', 'topic, tx, id', 'source, id',
                                   'event_timestamp', 'topic, processed_at'] LOOP
      EXECUTE format('CREATE INDEX ON %I (%s)', design, columns);
    END LOOP;
  END LOOP;
END $$;
-- GET /events/{topic}/{event_id} on B: no unique index possible, a plain one per partition.
CREATE INDEX ON b_events (topic, event_id);
CREATE INDEX ON b_keys (processed_at);
VACUUM ANALYZE a_events;
VACUUM ANALYZE b_events;
VACUUM ANALYZE b_keys;
SELECT extract(epoch FROM clock_timestamp() - :'t0') AS load_s \gset
\echo loaded in :load_s s

-- Size of a design: its tables with their indexes and TOAST (B: partitions + key table).
CREATE FUNCTION bench_size(design text) RETURNS bigint LANGUAGE sql AS $$
    SELECT CASE design
        WHEN 'a' THEN pg_total_relation_size('a_events')
        ELSE (SELECT COALESCE(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits
              WHERE inhparent = 'b_events'::regclass) + pg_total_relation_size('b_keys') END $$;

-- `batches` consumer-like batches of 5000 new rows (ids above `base`), one transaction each,
-- with the stored time "now"; prints the rows/s.
CREATE PROCEDURE bench_ingest(design text, base bigint, batches int) LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp(); lo bigint;
BEGIN
    FOR k IN 0 .. batches - 1 LOOP
        lo := base + k * 5000;
        IF design = 'a' THEN
            INSERT INTO a_events (topic, event_id, source, event_timestamp, payload,
                                  kafka_partition, kafka_offset)
            SELECT 'svc.' || (g % 40), 'n-' || g, 'host-' || (g % 25), now(),
                   jsonb_build_object('level', 'info', 'user', g % 5000, 'msg', md5(g::text)), 0, g
            FROM generate_series(lo, lo + 4999) g ON CONFLICT (topic, event_id) DO NOTHING;
        ELSE
            WITH fresh AS (
                INSERT INTO b_keys (topic, event_id, processed_at)
                SELECT 'svc.' || (g % 40), 'n-' || g, now() FROM generate_series(lo, lo + 4999) g
                ON CONFLICT DO NOTHING RETURNING topic, event_id)
            INSERT INTO b_events (topic, event_id, source, event_timestamp, payload,
                                  kafka_partition, kafka_offset)
            SELECT f.topic, f.event_id, 'host-1', now(),
                   jsonb_build_object('level', 'info', 'msg', md5(f.event_id)), 0, 0 FROM fresh f;
        END IF;
        COMMIT;
    END LOOP;
    RAISE NOTICE 'figure: %_ingest_rows_per_s = %', design,
        round(batches * 5000 / extract(epoch FROM clock_timestamp() - t0));
END $$;

-- Removes every row stored before `cutoff`: A in DELETE steps of 5000 (the enforcer's
-- statement), B by dropping the partitions wholly before it plus DELETE steps on b_keys.
CREATE PROCEDURE bench_remove(design text, cutoff timestamptz) LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp(); n bigint; total bigint := 0; part record;
        dropped bigint := 0;
BEGIN
    IF design = 'a' THEN
        FOR t IN 0 .. 39 LOOP
            LOOP
                DELETE FROM a_events WHERE id IN (
                    SELECT id FROM a_events WHERE topic = 'svc.' || t AND processed_at < cutoff
                    ORDER BY processed_at LIMIT 5000 FOR UPDATE SKIP LOCKED);
                GET DIAGNOSTICS n = ROW_COUNT;
                total := total + n;
                COMMIT;
                EXIT WHEN n < 5000;
            END LOOP;
        END LOOP;
    ELSE
        FOR part IN SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
                    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                    WHERE i.inhparent = 'b_events'::regclass LOOP
            IF (regexp_match(part.bound, 'TO \(''([^'']+)''\)'))[1]::timestamptz <= cutoff THEN
                EXECUTE format('SELECT count(*) FROM %I', part.relname) INTO n;
                EXECUTE format('DROP TABLE %I', part.relname);
                dropped := dropped + n;
                COMMIT;
            END IF;
        END LOOP;
        RAISE NOTICE 'figure: b_partition_drop_s = %',
            round(extract(epoch FROM clock_timestamp() - t0)::numeric, 2);
        LOOP
            DELETE FROM b_keys WHERE ctid IN (
                SELECT ctid FROM b_keys WHERE processed_at < cutoff LIMIT 5000);
            GET DIAGNOSTICS n = ROW_COUNT;
            total := total + n;
            COMMIT;
            EXIT WHEN n < 5000;
        END LOOP;
        RAISE NOTICE 'figure: b_rows_in_dropped_partitions = %', dropped;
    END IF;
    RAISE NOTICE 'figure: %_removed_rows = %', design, total;
    RAISE NOTICE 'figure: %_removal_s = %', design,
        round(extract(epoch FROM clock_timestamp() - t0)::numeric, 1);
    RAISE NOTICE 'figure: %_removal_rows_per_s = %', design,
        round(total / extract(epoch FROM clock_timestamp() - t0));
END $$;

-- p50/p99 in ms of the newest-first topic page and a key lookup, `runs` times each.
CREATE PROCEDURE bench_queries(design text, phase text, runs int) LANGUAGE plpgsql AS $$
DECLARE t timestamptz; page float8[] := '{}'; key float8[] := '{}'; tbl text := design || '_events';
        n bigint := (SELECT rows FROM bench_params);
BEGIN
    FOR k IN 1 .. runs LOOP
        t := clock_timestamp();
        EXECUTE format('SELECT count(*) FROM (SELECT id FROM %I WHERE topic = %L ORDER BY id DESC LIMIT 100) s',
                       tbl, 'svc.' || (k % 40));
        page := page || extract(epoch FROM clock_timestamp() - t) * 1000;
        t := clock_timestamp();
        EXECUTE format('SELECT count(*) FROM %I WHERE topic = %L AND event_id = %L', tbl,
                       'svc.' || ((n - k) % 40), 'e-' || (n - k));
        key := key || extract(epoch FROM clock_timestamp() - t) * 1000;
    END LOOP;
    RAISE NOTICE 'figure: %_%_topic_page_p50_ms = %', design, phase,
        round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FROM unnest(page) v)::numeric, 2);
    RAISE NOTICE 'figure: %_%_topic_page_p99_ms = %', design, phase,
        round((SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY v) FROM unnest(page) v)::numeric, 2);
    RAISE NOTICE 'figure: %_%_key_lookup_p50_ms = %', design, phase,
        round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FROM unnest(key) v)::numeric, 2);
END $$;

CREATE PROCEDURE bench_size_figure(design text, phase text) LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'figure: %_%_size_mb = %', design, phase, bench_size(design) / 1048576;
END $$;
