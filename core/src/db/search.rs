//! Filtered reads of `events` (GET /events, its export and the tail's catch-up): the filters,
//! the two orders and their cursors, built into one parameterised SQL statement.
//!
//! Two orders exist. Newest first walks `id` downwards (the seed contract). Oldest first walks
//! commit order, `(tx, id)`, and only below the snapshot horizon
//! `pg_snapshot_xmin(pg_current_snapshot())`: every transaction under it has ended, so no row
//! can later appear behind a cursor there. Ids alone would not do: they are drawn before
//! commit, so with concurrent consumers a lower id can become visible after a higher one.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::sql_types::{Array, Int8, Jsonb, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::events::{Order, StoredEvent};
use super::DbError;

/// Columns of a found event, plus its transaction as text (xid8 has no diesel mapping).
pub(crate) const EVENT_COLUMNS: &str = "id, topic, event_id, event_timestamp, source, payload, \
     processed_at, kafka_partition, kafka_offset, tx::text AS tx";

/// The text `q=` searches: the source and the payload's JSON text (the trigram index's
/// expression, so the planner matches it).
pub(crate) const SEARCH_TEXT: &str = "(source || ' ' || payload::text)";

/// What `GET /events` (and the stream and the export) select; every field is optional and
/// they combine with AND.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    /// Any of these topics (empty: every topic).
    pub topics: Vec<String>,
    pub source: Option<String>,
    /// Event time at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Event time strictly before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Case-insensitive substring of the source or the payload's JSON text.
    pub text: Option<String>,
    /// A JSON object the payload must contain (`@>`).
    pub payload: Option<serde_json::Value>,
}

/// A position in commit order: the storing transaction, then the row id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommitCursor {
    pub tx: u64,
    pub id: i64,
}

impl fmt::Display for CommitCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.tx, self.id)
    }
}

impl FromStr for CommitCursor {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let (tx, id) = s.split_once('.').ok_or(())?;
        Ok(Self {
            tx: tx.parse().map_err(|_| ())?,
            id: id.parse().map_err(|_| ())?,
        })
    }
}

/// Where a page starts: a plain row id (what clients have always sent) or a commit cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Id(i64),
    Commit(CommitCursor),
}

/// One page (or, without a limit, the whole export) of a filtered read.
#[derive(Debug, Clone, PartialEq)]
pub struct EventQuery {
    pub filter: EventFilter,
    pub order: Order,
    /// Only ids strictly below this one.
    pub before: Option<i64>,
    /// Newest first: only ids above it. Oldest first: only rows after it in commit order
    /// (a plain id is resolved to its row's commit position first, see [`resolve_after`]).
    pub after: Option<After>,
    /// Oldest first only: nothing after this position (inclusive bound).
    pub until: Option<CommitCursor>,
    pub limit: Option<i64>,
}

/// A found event with its commit position.
#[derive(Debug, Clone, QueryableByName)]
pub struct FoundEvent {
    #[diesel(embed)]
    pub event: StoredEvent,
    #[diesel(sql_type = Text)]
    pub tx: String,
}

impl FoundEvent {
    pub fn cursor(&self) -> CommitCursor {
        CommitCursor {
            // xid8 text is always an unsigned integer.
            tx: self.tx.parse().unwrap_or_default(),
            id: self.event.id,
        }
    }
}

/// A bind parameter of a built statement.
#[derive(Debug, Clone)]
enum Bind {
    Text(String),
    Texts(Vec<String>),
    Time(DateTime<Utc>),
    Json(serde_json::Value),
    Int(i64),
}

/// SQL text with `$n` placeholders and their values, in order.
#[derive(Debug, Default)]
pub(crate) struct Statement {
    pub sql: String,
    binds: Vec<Bind>,
}

impl Statement {
    fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    /// Appends `AND <condition>` for every filter field.
    pub(crate) fn filter(&mut self, filter: &EventFilter) {
        match filter.topics.as_slice() {
            [] => {}
            [one] => {
                let p = self.bind(Bind::Text(one.clone()));
                self.sql += &format!(" AND topic = {p}");
            }
            many => {
                let p = self.bind(Bind::Texts(many.to_vec()));
                self.sql += &format!(" AND topic = ANY({p})");
            }
        }
        if let Some(source) = &filter.source {
            let p = self.bind(Bind::Text(source.clone()));
            self.sql += &format!(" AND source = {p}");
        }
        if let Some(from) = filter.from {
            let p = self.bind(Bind::Time(from));
            self.sql += &format!(" AND event_timestamp >= {p}");
        }
        if let Some(to) = filter.to {
            let p = self.bind(Bind::Time(to));
            self.sql += &format!(" AND event_timestamp < {p}");
        }
        if let Some(text) = &filter.text {
            let p = self.bind(Bind::Text(format!("%{}%", like_escape(text))));
            self.sql += &format!(" AND {SEARCH_TEXT} ILIKE {p}");
        }
        if let Some(payload) = &filter.payload {
            let p = self.bind(Bind::Json(payload.clone()));
            self.sql += &format!(" AND payload @> {p}");
        }
    }

    /// Appends the cursor conditions, the order and the limit of `query`.
    fn window(&mut self, query: &EventQuery) {
        if let Some(before) = query.before {
            let p = self.bind(Bind::Int(before));
            self.sql += &format!(" AND id < {p}");
        }
        match query.order {
            Order::Desc => {
                let after = match query.after {
                    Some(After::Id(id)) => Some(id),
                    Some(After::Commit(c)) => Some(c.id),
                    None => None,
                };
                if let Some(after) = after {
                    let p = self.bind(Bind::Int(after));
                    self.sql += &format!(" AND id > {p}");
                }
                self.sql += " ORDER BY id DESC";
            }
            Order::Asc => {
                self.sql += " AND tx < pg_snapshot_xmin(pg_current_snapshot())";
                if let Some(after) = query.after {
                    let c = match after {
                        After::Commit(c) => c,
                        // Unresolved: callers resolve ids first; this keeps it total.
                        After::Id(id) => CommitCursor { tx: 0, id },
                    };
                    let (tx, id) = (
                        self.bind(Bind::Text(c.tx.to_string())),
                        self.bind(Bind::Int(c.id)),
                    );
                    self.sql += &format!(" AND (tx, id) > ({tx}::xid8, {id})");
                }
                if let Some(c) = query.until {
                    let (tx, id) = (
                        self.bind(Bind::Text(c.tx.to_string())),
                        self.bind(Bind::Int(c.id)),
                    );
                    self.sql += &format!(" AND (tx, id) <= ({tx}::xid8, {id})");
                }
                self.sql += " ORDER BY events.tx, events.id";
            }
        }
        if let Some(limit) = query.limit {
            let p = self.bind(Bind::Int(limit));
            self.sql += &format!(" LIMIT {p}");
        }
    }

    /// The statement as a diesel query with every value bound.
    pub(crate) fn query(
        self,
    ) -> diesel::query_builder::BoxedSqlQuery<'static, Pg, diesel::query_builder::SqlQuery> {
        let mut query = diesel::sql_query(self.sql).into_boxed::<Pg>();
        for bind in self.binds {
            query = match bind {
                Bind::Text(v) => query.bind::<Text, _>(v),
                Bind::Texts(v) => query.bind::<Array<Text>, _>(v),
                Bind::Time(v) => query.bind::<Timestamptz, _>(v),
                Bind::Json(v) => query.bind::<Jsonb, _>(v),
                Bind::Int(v) => query.bind::<Int8, _>(v),
            };
        }
        query
    }
}

/// `text` with LIKE's wildcards and escape character taken literally.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The statement for `query` (exposed for EXPLAIN in tests and the bench).
pub fn sql_of(query: &EventQuery) -> String {
    build(query).sql
}

fn build(query: &EventQuery) -> Statement {
    let mut statement = Statement {
        sql: format!("SELECT {EVENT_COLUMNS} FROM events WHERE true"),
        ..Statement::default()
    };
    statement.filter(&query.filter);
    statement.window(query);
    statement
}

/// Turns a plain `after=<id>` of an oldest-first read into that row's commit position, so a
/// client that follows with the last id it saw is as safe as one using the opaque cursor.
/// A missing row (never stored, or deleted) falls back to the nearest row below it.
pub async fn resolve_after(conn: &mut AsyncPgConnection, id: i64) -> Result<CommitCursor, DbError> {
    #[derive(QueryableByName)]
    struct Tx {
        #[diesel(sql_type = Text)]
        tx: String,
    }
    let found: Option<Tx> = diesel::sql_query(
        "SELECT tx::text AS tx FROM events WHERE id <= $1 ORDER BY id DESC LIMIT 1",
    )
    .bind::<Int8, _>(id)
    .get_result(conn)
    .await
    .map(Some)
    .or_else(|e| match e {
        diesel::result::Error::NotFound => Ok(None),
        e => Err(e),
    })?;
    Ok(CommitCursor {
        tx: found.and_then(|t| t.tx.parse().ok()).unwrap_or(0),
        id,
    })
}

/// Runs one filtered read.
pub async fn find(
    conn: &mut AsyncPgConnection,
    query: &EventQuery,
) -> Result<Vec<FoundEvent>, DbError> {
    Ok(build(query).query().load(conn).await?)
}

/// `EXPLAIN` of the read, one plan line per element.
pub async fn explain(
    conn: &mut AsyncPgConnection,
    query: &EventQuery,
) -> Result<Vec<String>, DbError> {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }
    let mut statement = build(query);
    statement.sql = format!("EXPLAIN {}", statement.sql);
    let lines: Vec<Line> = statement.query().load(conn).await?;
    Ok(lines.into_iter().map(|l| l.line).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_order_by_transaction_first() {
        let c: CommitCursor = "42.7".parse().unwrap();
        assert_eq!(c, CommitCursor { tx: 42, id: 7 });
        assert_eq!(c.to_string(), "42.7");
        assert!(CommitCursor { tx: 41, id: 9 } < c);
        for bad in ["", "42", "42.", ".7", "-1.2", "a.b", "1.2.3"] {
            assert!(bad.parse::<CommitCursor>().is_err(), "{bad}");
        }
    }

    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(like_escape(r"50%_a\b"), r"50\%\_a\\b");
    }

    #[test]
    fn every_filter_becomes_one_bound_condition() {
        let query = EventQuery {
            filter: EventFilter {
                topics: vec!["a".into(), "b".into()],
                source: Some("s".into()),
                from: Some(Utc::now()),
                to: Some(Utc::now()),
                text: Some("x".into()),
                payload: Some(serde_json::json!({"k": 1})),
            },
            order: Order::Asc,
            before: Some(9),
            after: Some(After::Commit(CommitCursor { tx: 1, id: 2 })),
            until: None,
            limit: Some(10),
        };
        let sql = sql_of(&query);
        assert!(sql.contains("topic = ANY($1)"), "{sql}");
        assert!(sql.contains("(tx, id) > ($8::xid8, $9)"), "{sql}");
        assert!(
            sql.ends_with("ORDER BY events.tx, events.id LIMIT $10"),
            "{sql}"
        );
    }
}
