//! (1c) The alternative to the consumer's `unnest` insert that issue 16 asks to try: each
//! transaction `COPY`s its rows in PostgreSQL's binary format into a temporary table, then
//! moves them with `INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING` (the keys inserted, as
//! the consumer needs them). Same batches as (1b), so (1b) is its same-run baseline. Through
//! `tokio-postgres` directly: diesel-async has no COPY.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use futures::pin_mut;
use logagg_core::db::events::NewEvent;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls};

use crate::pg_ceiling::COLUMNS;

/// Column types of the temporary table, in `COPY` order.
const TYPES: [Type; 7] = [
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TIMESTAMPTZ,
    Type::JSONB,
    Type::INT4,
    Type::INT8,
];

/// `batches` (first occurrence per key within each, as the consumer prepares them) written one
/// transaction each through COPY; checks that `distinct` rows were inserted in all. Rows
/// inserted and the time taken.
pub async fn run(
    database_url: &str,
    batches: &[Vec<NewEvent>],
    distinct: usize,
) -> anyhow::Result<(usize, Duration)> {
    let (mut client, connection) = tokio_postgres::connect(database_url, NoTls)
        .await
        .context("connecting for the COPY diagnostic")?;
    let driver = tokio::spawn(connection);
    // Deleted at every commit, so each transaction starts from an empty table without
    // creating one (catalog churn) per batch.
    client
        .batch_execute(
            "CREATE TEMPORARY TABLE batch_rows (topic text, event_id text, source text,
               event_timestamp timestamptz, payload jsonb, kafka_partition int4, kafka_offset int8)
             ON COMMIT DELETE ROWS",
        )
        .await?;
    let started = Instant::now();
    let mut inserted = 0;
    for rows in batches {
        inserted += write_batch(&mut client, rows).await?;
    }
    let elapsed = started.elapsed();
    drop(client);
    let _ = driver.await;
    ensure!(
        inserted == distinct,
        "COPY insert stored {inserted} rows, expected {distinct}"
    );
    Ok((inserted, elapsed))
}

/// One transaction: COPY the rows in, move the new ones into `events`; the number inserted.
async fn write_batch(client: &mut Client, rows: &[NewEvent]) -> anyhow::Result<usize> {
    let transaction = client.transaction().await?;
    let sink = transaction
        .copy_in("COPY batch_rows FROM STDIN (FORMAT binary)")
        .await?;
    let writer = BinaryCopyInWriter::new(sink, &TYPES);
    pin_mut!(writer);
    for row in rows {
        let values: [&(dyn ToSql + Sync); 7] = [
            &row.topic,
            &row.event_id,
            &row.source,
            &row.event_timestamp,
            &row.payload,
            &row.kafka_partition,
            &row.kafka_offset,
        ];
        writer.as_mut().write(&values).await?;
    }
    writer.finish().await?;
    let keys = transaction
        .query(
            &format!(
                "INSERT INTO events ({COLUMNS}) SELECT {COLUMNS} FROM batch_rows
                 ON CONFLICT (topic, event_id) DO NOTHING RETURNING topic, event_id"
            ),
            &[],
        )
        .await?;
    transaction.commit().await?;
    Ok(keys.len())
}
