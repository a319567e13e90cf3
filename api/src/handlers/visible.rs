//! What a topic-limited caller may read: a read's filter narrowed to the caller's topics (the
//! database is asked for those topics only), for `/events`, its export and the tail.

use logagg_core::db::counters;
use logagg_core::db::search::EventFilter;

use crate::auth::Caller;
use crate::errors::ApiError;
use crate::state::AppState;

/// Narrows `filter` to the topics `caller` may read; `false` when that leaves none (the read
/// answers nothing). Patterns with `*` are resolved against the topics counted so far.
pub async fn narrow(
    conn: &mut diesel_async::AsyncPgConnection,
    state: &AppState,
    caller: &Caller,
    filter: &mut EventFilter,
) -> Result<bool, ApiError> {
    let Some(topics) = caller.topics() else {
        return Ok(true);
    };
    if filter.topics.is_empty() {
        let mut allowed = topics.literals();
        if !topics.all_literal() {
            let known = counters::by_topic(conn, &state.kafka.group, &state.kafka.topic).await?;
            allowed.extend(
                known
                    .into_iter()
                    .map(|(topic, _)| topic)
                    .filter(|topic| topics.matches(topic)),
            );
            allowed.sort();
            allowed.dedup();
        }
        filter.topics = allowed;
    } else {
        filter.topics.retain(|topic| topics.matches(topic));
    }
    Ok(!filter.topics.is_empty())
}
