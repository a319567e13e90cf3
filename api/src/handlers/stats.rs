//! `GET /stats`: counters read from PostgreSQL (identical from every API instance, surviving
//! restarts) plus the consumer lag from the broker's watermarks.

use std::collections::BTreeMap;
use std::time::Duration;

use logagg_core::db::progress::Counts;
use logagg_core::db::{counters, dead_letters, events, progress, DbError};
use serde_json::{json, Map, Value};
use warp::reply::Response;
use warp::Reply;

use crate::errors::ApiError;
use crate::state::AppState;

const WATERMARK_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn stats(state: AppState) -> Result<Response, ApiError> {
    let mut conn = state.pool.get().await.map_err(DbError::from)?;
    let rows = progress::all(&mut conn, &state.kafka.group, &state.kafka.topic).await?;
    let topics = counters::by_topic(&mut conn, &state.kafka.group, &state.kafka.topic).await?;
    let stored_events = events::count(&mut conn).await?;
    let dead = dead_letters::pending(&mut conn, &state.kafka.group).await?;
    drop(conn);
    let mut total = Counts::default();
    for row in &rows {
        total.add(&row.counts());
    }
    let next_offsets: BTreeMap<i32, i64> = rows
        .iter()
        .map(|r| (r.kafka_partition, r.next_offset))
        .collect();
    let producer = state.producer.clone();
    let watermarks = tokio::task::spawn_blocking(move || producer.watermarks(WATERMARK_TIMEOUT))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let (lag, lag_per_partition) = match watermarks {
        Ok(marks) => {
            let mut per = Map::new();
            let mut sum = 0i64;
            for (partition, low, high) in marks {
                let consumed = next_offsets
                    .get(&partition)
                    .copied()
                    .unwrap_or(low)
                    .max(low);
                let lag = (high - consumed).max(0);
                sum += lag;
                per.insert(partition.to_string(), json!(lag));
            }
            (json!(sum), Value::Object(per))
        }
        // The counters are still exact without the broker; only the lag is unknown.
        Err(_) => (Value::Null, Value::Null),
    };
    let per_topic: Map<String, Value> = topics
        .iter()
        .map(|(name, c)| (name.clone(), json!(c)))
        .collect();
    Ok(warp::reply::json(&json!({
        "received": total.received,
        "unique_processed": total.unique_processed,
        "duplicate_dropped": total.duplicate_dropped,
        "invalid": total.invalid,
        "replayed": total.replayed,
        "stored_events": stored_events,
        "dead_letters": dead.count,
        "dead_letters_oldest_age_seconds": dead.oldest_age_seconds,
        "topics": topics.iter().map(|(name, _)| name.clone()).collect::<Vec<_>>(),
        "per_topic": per_topic,
        "consumer_lag": lag,
        "lag_per_partition": lag_per_partition,
        "uptime_seconds": state.started.elapsed().as_secs(),
        "consumer_group": state.kafka.group,
        "kafka_topic": state.kafka.topic,
        "requests": state.metrics.requests_by_route(),
    }))
    .into_response())
}
