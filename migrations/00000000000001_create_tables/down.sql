DROP TABLE dead_letters;
DROP TABLE topic_counters;
DROP TABLE partition_progress;
DROP TABLE events;
