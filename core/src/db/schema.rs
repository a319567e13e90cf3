// @generated automatically by Diesel CLI.

pub mod sql_types {
    #[derive(diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "xid8"))]
    pub struct Xid8;
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
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    dead_letters,
    events,
    partition_progress,
    topic_counters,
);
