//! `GET /stats`: counters read from PostgreSQL (identical from every API instance, surviving
//! restarts) plus the consumer lag from the broker's watermarks.

use crate::route_table::IN_TABLE;
use std::collections::BTreeMap;
use std::time::Duration;

use logagg_core::contract::StatsResponse;
use logagg_core::db::progress::Counts;
use logagg_core::db::{counters, dead_letters, events, progress, retention, DbError};
use warp::reply::Response;
use warp::Reply;

use crate::errors::ApiError;
use crate::handlers::responses::DbUnavailable;
use crate::handlers::Request;

const WATERMARK_TIMEOUT: Duration = Duration::from_secs(2);

/// Exact counters from PostgreSQL, topics, consumer lag.
#[utoipa::path(
    get, path = IN_TABLE,
    responses((status = 200, description = "Counters", body = StatsResponse), DbUnavailable),
)]
pub async fn stats(request: Request) -> Result<Response, ApiError> {
    let Request { state, caller, .. } = request;
    let mut conn = state.pool.get().await.map_err(DbError::from)?;
    let rows = progress::all(&mut conn, &state.kafka.group, &state.kafka.topic).await?;
    let mut topics = counters::by_topic(&mut conn, &state.kafka.group, &state.kafka.topic).await?;
    let stored_events = events::count(&mut conn).await?;
    let dead = dead_letters::pending(&mut conn, &state.kafka.group).await?;
    let retention = retention::status(&mut conn).await?;
    drop(conn);
    let expired = topics.iter().map(|(_, c)| c.expired).sum();
    let deleted = topics.iter().map(|(_, c)| c.deleted).sum();
    // A topic-limited caller sees its topics' counters only (the totals stay the fleet's).
    topics.retain(|(topic, _)| caller.may_see(topic));
    let total = Counts::total(&rows);
    let next_offsets: BTreeMap<i32, i64> = rows
        .iter()
        .map(|r| (r.kafka_partition, r.next_offset))
        .collect();
    let producer = state.producer.clone();
    let watermarks = tokio::task::spawn_blocking(move || producer.watermarks(WATERMARK_TIMEOUT))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    // The counters are still exact without the broker; only the lag is unknown (null).
    let lag_per_partition: Option<BTreeMap<String, i64>> = watermarks.ok().map(|marks| {
        marks
            .into_iter()
            .map(|(partition, low, high)| {
                let consumed = next_offsets
                    .get(&partition)
                    .copied()
                    .unwrap_or(low)
                    .max(low);
                (partition.to_string(), (high - consumed).max(0))
            })
            .collect()
    });
    let body = StatsResponse {
        consumer_group: state.kafka.group.clone(),
        consumer_lag: lag_per_partition.as_ref().map(|per| per.values().sum()),
        dead_letters: dead.count,
        dead_letters_oldest_age_seconds: dead.oldest_age_seconds,
        deleted,
        duplicate_dropped: total.duplicate_dropped,
        expired,
        invalid: total.invalid,
        kafka_topic: state.kafka.topic.clone(),
        lag_per_partition,
        lost: total.lost,
        lost_per_partition: rows
            .iter()
            .map(|r| (r.kafka_partition.to_string(), r.counts.lost))
            .collect(),
        topics: topics.iter().map(|(name, _)| name.clone()).collect(),
        per_topic: topics.into_iter().collect(),
        received: total.received,
        replayed: total.replayed,
        requests: state.metrics.requests_by_route(),
        retention,
        stored_events,
        unique_processed: total.unique_processed,
        uptime_seconds: state.started.elapsed().as_secs(),
    };
    Ok(warp::reply::json(&body).into_response())
}
