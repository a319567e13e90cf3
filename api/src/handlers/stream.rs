//! `GET /events/stream`: the live tail as Server-Sent Events, with the filters of
//! `GET /events`. It starts at the current settled head, or resumes after `Last-Event-ID` (or
//! `after=`); each event's SSE id is its commit cursor `<tx>.<id>`, so a reconnecting client
//! receives every matching event once, in commit order. Comments keep idle streams alive.

use crate::route_table::IN_TABLE;
use std::convert::Infallible;
use std::sync::Arc;

use logagg_core::contract::EventView;
use logagg_core::db::events::Order;
use logagg_core::db::search::{self as search_db, After, CommitCursor, EventFilter, EventQuery};
use logagg_core::db::tail;
use logagg_core::db::DbError;
use tokio::sync::{broadcast, mpsc};
use warp::reply::Response;
use warp::sse::Event;
use warp::Reply;

use crate::auth::Caller;
use crate::errors::ApiError;
use crate::handlers::responses::ReadErrors;
use crate::handlers::search::{self, FILTER_PARAMS};
use crate::handlers::{visible, Request};
use crate::state::AppState;
use crate::tail::Batch;

/// Rows per catch-up query.
const CATCH_UP_ROWS: i64 = 1_000;
/// Events queued towards one client before the stream waits for it.
const CLIENT_QUEUE: usize = 256;

/// Live tail (Server-Sent Events) of the events matching the filters; each event's id is its commit cursor. Comment lines are heartbeats.
#[utoipa::path(
    get, path = IN_TABLE,
    params(
        search::FilterParams,
        ("after" = Option<String>, Query, description = "Events stored after this one in commit order: an event id or the cursor <tx>.<id> of Link / the stream's event ids"),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event (wins over after=)"),
    ),
    responses(
        (status = 200, description = "An endless event stream", body = String, content_type = "text/event-stream"),
        ReadErrors,
    ),
)]
pub async fn stream(request: Request) -> Result<Response, ApiError> {
    let params = &request.params()?;
    let last_event_id = request.header("last-event-id");
    let Request { state, caller, .. } = request;
    let known: Vec<&str> = FILTER_PARAMS.iter().chain(&["after"]).copied().collect();
    search::only_known(params, &known)?;
    let mut filter = search::parse_filter(params)?;
    if caller.topics().is_some() {
        let mut conn = state.read_pool.get().await.map_err(DbError::from)?;
        if !visible::narrow(&mut conn, &state, &caller, &mut filter).await? {
            // Nothing visible yet: follow every topic, and let `send` keep only the caller's.
            filter.topics.clear();
        }
    }
    let after = match (last_event_id, params.get("after")) {
        (Some(id), _) => Some(search::parse_after("Last-Event-ID", id.trim())?),
        (None, Some(after)) => Some(search::parse_after("after", after)?),
        (None, None) => None,
    };
    let permit = state
        .reads
        .streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Unavailable("too many open streams; retry later".into()))?;
    let start = match after {
        Some(After::Commit(cursor)) => Some(cursor),
        Some(After::Id(id)) => {
            let mut conn = state.read_pool.get().await.map_err(DbError::from)?;
            Some(search_db::resolve_after(&mut conn, id).await?)
        }
        None => None,
    };
    let (receiver, position) = state.reads.hub.subscribe().await?;
    let (sender, events) = mpsc::channel::<Event>(CLIENT_QUEUE);
    let follower = Follower {
        state: state.clone(),
        filter,
        caller,
        cursor: start.unwrap_or(position),
        sender,
    };
    tokio::spawn(async move {
        let _permit = permit;
        follower.run(receiver, position).await;
    });
    let stream = futures::stream::unfold(events, |mut events| async move {
        events
            .recv()
            .await
            .map(|event| (Ok::<_, Infallible>(event), events))
    });
    Ok(warp::sse::reply(stream).into_response())
}

/// One client's side of the tail.
struct Follower {
    state: AppState,
    filter: EventFilter,
    /// Whose stream: a topic-limited caller is sent its topics' events only.
    caller: Caller,
    /// The last position delivered (or skipped as not matching).
    cursor: CommitCursor,
    sender: mpsc::Sender<Event>,
}

/// The client went away.
struct Gone;

impl Follower {
    async fn run(
        mut self,
        mut receiver: broadcast::Receiver<Arc<Batch>>,
        mut position: CommitCursor,
    ) {
        if self
            .comment(&format!("stream from {}", self.cursor))
            .await
            .is_err()
        {
            return;
        }
        loop {
            match self.follow(receiver, position).await {
                Ok(()) | Err(Some(Gone)) => return,
                // Fell behind the broadcast, or the database failed: subscribe again.
                Err(None) => {}
            }
            (receiver, position) = loop {
                match self.state.reads.hub.subscribe().await {
                    Ok(subscription) => break subscription,
                    Err(error) => tracing::warn!(%error, "stream cannot resubscribe; retrying"),
                }
                if self.comment("waiting for the database").await.is_err() {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            };
        }
    }

    /// Catches up to `position` from the database, then delivers the broadcast. `Err(None)`
    /// asks for a new subscription.
    async fn follow(
        &mut self,
        mut receiver: broadcast::Receiver<Arc<Batch>>,
        position: CommitCursor,
    ) -> Result<(), Option<Gone>> {
        if self.cursor < position {
            if let Err(error) = self.catch_up(position).await {
                return match error {
                    CatchUp::Gone => Err(Some(Gone)),
                    CatchUp::Db(error) => {
                        tracing::warn!(%error, "stream catch-up failed");
                        Err(None)
                    }
                };
            }
        }
        let mut heartbeat = tokio::time::interval(self.state.reads.heartbeat);
        heartbeat.tick().await;
        loop {
            tokio::select! {
                batch = receiver.recv() => match batch {
                    Ok(batch) => {
                        for row in &batch.rows {
                            let at = row.found.cursor();
                            if at <= self.cursor {
                                continue;
                            }
                            if tail::matches(&self.filter, row) {
                                self.send(&row.found).await.map_err(|_| Some(Gone))?;
                            }
                            self.cursor = at;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => return Err(None),
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
                _ = heartbeat.tick() => {
                    self.comment("heartbeat").await.map_err(|_| Some(Gone))?;
                }
                _ = self.sender.closed() => return Err(Some(Gone)),
            }
        }
    }

    async fn catch_up(&mut self, position: CommitCursor) -> Result<(), CatchUp> {
        let mut conn = self
            .state
            .read_pool
            .get()
            .await
            .map_err(|e| CatchUp::Db(e.into()))?;
        loop {
            let rows = search_db::find(
                &mut conn,
                &EventQuery {
                    filter: self.filter.clone(),
                    order: Order::Asc,
                    before: None,
                    after: Some(After::Commit(self.cursor)),
                    until: Some(position),
                    limit: Some(CATCH_UP_ROWS),
                },
            )
            .await
            .map_err(CatchUp::Db)?;
            for row in &rows {
                self.send(row).await.map_err(|_| CatchUp::Gone)?;
                self.cursor = row.cursor();
            }
            if (rows.len() as i64) < CATCH_UP_ROWS {
                // Rows between the last match and the position did not match.
                self.cursor = self.cursor.max(position);
                return Ok(());
            }
        }
    }

    async fn send(&self, found: &search_db::FoundEvent) -> Result<(), Gone> {
        if !self.caller.may_see(&found.event.topic) {
            return Ok(());
        }
        let data =
            serde_json::to_string(&EventView::from(found.event.clone())).map_err(|_| Gone)?;
        let event = Event::default().id(found.cursor().to_string()).data(data);
        self.sender.send(event).await.map_err(|_| Gone)
    }

    async fn comment(&self, text: &str) -> Result<(), Gone> {
        self.sender
            .send(Event::default().comment(text))
            .await
            .map_err(|_| Gone)
    }
}

enum CatchUp {
    Gone,
    Db(DbError),
}
