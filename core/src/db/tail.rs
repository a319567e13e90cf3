//! The live tail's reads: the settled head of commit order and the unfiltered rows after a
//! position (one shared poller reads them for every stream), and the in-memory test of an
//! [`EventFilter`] against such a row, equal to what the SQL filter selects.

use diesel::sql_types::{Int8, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use super::search::{CommitCursor, EventFilter, FoundEvent, EVENT_COLUMNS, SEARCH_TEXT};
use super::DbError;

/// A new row for the streams, with the lower-cased text `q=` searches.
#[derive(Debug, Clone, QueryableByName)]
pub struct TailRow {
    #[diesel(embed)]
    pub found: FoundEvent,
    #[diesel(sql_type = Text)]
    pub search_text: String,
}

/// The last settled position (every row at or before it is committed and none can appear
/// there later); the start when the table is empty.
pub async fn head(conn: &mut AsyncPgConnection) -> Result<CommitCursor, DbError> {
    #[derive(QueryableByName)]
    struct Head {
        #[diesel(sql_type = Text)]
        tx: String,
        #[diesel(sql_type = Int8)]
        id: i64,
    }
    let rows: Vec<Head> = diesel::sql_query(
        "SELECT tx::text AS tx, id FROM events \
         WHERE tx < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY events.tx DESC, events.id DESC LIMIT 1",
    )
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .next()
        .map(|h| CommitCursor {
            tx: h.tx.parse().unwrap_or_default(),
            id: h.id,
        })
        .unwrap_or_default())
}

/// Settled rows after `after` in commit order, at most `limit`.
pub async fn after(
    conn: &mut AsyncPgConnection,
    after: CommitCursor,
    limit: i64,
) -> Result<Vec<TailRow>, DbError> {
    let mut rows: Vec<TailRow> = diesel::sql_query(format!(
        "SELECT {EVENT_COLUMNS}, {SEARCH_TEXT} AS search_text FROM events \
         WHERE tx < pg_snapshot_xmin(pg_current_snapshot()) AND (tx, id) > ($1::xid8, $2) \
         ORDER BY events.tx, events.id LIMIT $3"
    ))
    .bind::<Text, _>(after.tx.to_string())
    .bind::<Int8, _>(after.id)
    .bind::<Int8, _>(limit)
    .load(conn)
    .await?;
    for row in &mut rows {
        row.search_text = row.search_text.to_lowercase();
    }
    Ok(rows)
}

/// Whether `filter` selects `row`: the same test as the SQL of [`super::search`].
pub fn matches(filter: &EventFilter, row: &TailRow) -> bool {
    let event = &row.found.event;
    (filter.topics.is_empty() || filter.topics.contains(&event.topic))
        && filter.source.as_ref().is_none_or(|s| *s == event.source)
        && filter.from.is_none_or(|from| event.event_timestamp >= from)
        && filter.to.is_none_or(|to| event.event_timestamp < to)
        && filter
            .text
            .as_ref()
            .is_none_or(|q| row.search_text.contains(&q.to_lowercase()))
        && filter
            .payload
            .as_ref()
            .is_none_or(|p| json_contains(&event.payload, p))
}

/// PostgreSQL's `jsonb @> jsonb` for an object document: objects contain every key of the
/// pattern with a contained value, arrays contain every pattern element in some element,
/// scalars are equal (numbers by value).
pub fn json_contains(document: &Value, pattern: &Value) -> bool {
    match (document, pattern) {
        (Value::Object(doc), Value::Object(pat)) => pat
            .iter()
            .all(|(k, v)| doc.get(k).is_some_and(|d| json_contains(d, v))),
        (Value::Array(doc), Value::Array(pat)) => {
            pat.iter().all(|p| doc.iter().any(|d| json_contains(d, p)))
        }
        (Value::Number(a), Value::Number(b)) => a == b || a.as_f64() == b.as_f64(),
        (a, b) => !a.is_object() && !a.is_array() && a == b,
    }
}

/// Waits (at most `timeout`) until every transaction running when it was called has ended,
/// so a commit-order read that follows sees every row committed before the request (rows
/// are only read below the horizon; a short concurrent write would otherwise hide them).
pub async fn wait_for_horizon(
    conn: &mut AsyncPgConnection,
    timeout: std::time::Duration,
) -> Result<(), DbError> {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Text};
    let started: String =
        diesel::select(sql::<Text>("pg_snapshot_xmax(pg_current_snapshot())::text"))
            .get_result(conn)
            .await?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let passed: bool = diesel::select(
            sql::<Bool>("pg_snapshot_xmin(pg_current_snapshot()) >= ")
                .bind::<Text, _>(started.clone())
                .sql("::xid8"),
        )
        .get_result(conn)
        .await?;
        if passed || tokio::time::Instant::now() >= deadline {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn containment_follows_jsonb() {
        let doc = json!({"user": {"id": 42, "tags": ["a", "b"]}, "level": "error", "n": 1.0});
        for yes in [
            json!({}),
            json!({"level": "error"}),
            json!({"user": {"id": 42}}),
            json!({"user": {"tags": ["b"]}}),
            json!({"n": 1}),
        ] {
            assert!(json_contains(&doc, &yes), "{yes}");
        }
        for no in [
            json!({"level": "warn"}),
            json!({"user": {"id": "42"}}),
            json!({"user": {"tags": ["c"]}}),
            json!({"missing": null}),
            json!({"user": 42}),
        ] {
            assert!(!json_contains(&doc, &no), "{no}");
        }
    }
}
