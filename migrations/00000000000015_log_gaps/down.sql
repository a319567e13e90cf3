ALTER TABLE partition_progress DROP COLUMN lost;
