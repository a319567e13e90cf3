-- Records the broker deleted (retention, deleteRecords) before this group stored them: a gap
-- between a partition's stored next offset and the first offset it was then served. Counted
-- per partition, outside the `received` invariant (they were never received).
ALTER TABLE partition_progress ADD COLUMN lost BIGINT NOT NULL DEFAULT 0;
