// @generated automatically by Diesel CLI.

pub mod sql_types {
    #[derive(diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "xid8"))]
    pub struct Xid8;
}

diesel::table! {
    admin_deletes (id) {
        id -> Int8,
        requested_by -> Text,
        filter -> Jsonb,
        deleted -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    dead_letters (id) {
        id -> Int8,
        consumer_group -> Text,
        kafka_topic -> Text,
        kafka_partition -> Int4,
        kafka_offset -> Int8,
        record_key -> Nullable<Bytea>,
        record_value -> Nullable<Bytea>,
        error -> Text,
        created_at -> Timestamptz,
        retried_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Xid8;

    events (id) {
        id -> Int8,
        topic -> Text,
        event_id -> Text,
        source -> Text,
        event_timestamp -> Timestamptz,
        payload -> Jsonb,
        kafka_partition -> Int4,
        kafka_offset -> Int8,
        processed_at -> Timestamptz,
        tx -> Xid8,
    }
}

diesel::table! {
    partition_progress (consumer_group, kafka_topic, kafka_partition) {
        consumer_group -> Text,
        kafka_topic -> Text,
        kafka_partition -> Int4,
        next_offset -> Int8,
        received -> Int8,
        unique_processed -> Int8,
        duplicate_dropped -> Int8,
        invalid -> Int8,
        replayed -> Int8,
        updated_at -> Timestamptz,
        lost -> Int8,
    }
}

diesel::table! {
    retention_policies (topic) {
        topic -> Text,
        retention_seconds -> Nullable<Int8>,
        updated_by -> Text,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    retention_status (id) {
        id -> Int4,
        holder -> Text,
        last_run_at -> Timestamptz,
        last_run_removed -> Int8,
        removed_total -> Int8,
        lag_ms -> Int8,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    topic_counters (consumer_group, kafka_topic, kafka_partition, topic) {
        consumer_group -> Text,
        kafka_topic -> Text,
        kafka_partition -> Int4,
        topic -> Text,
        received -> Int8,
        unique_processed -> Int8,
        duplicate_dropped -> Int8,
        replayed -> Int8,
        first_event_at -> Nullable<Timestamptz>,
        last_event_at -> Nullable<Timestamptz>,
        last_stored_at -> Nullable<Timestamptz>,
        expired -> Int8,
        deleted -> Int8,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    admin_deletes,
    dead_letters,
    events,
    partition_progress,
    retention_policies,
    retention_status,
    topic_counters,
);
