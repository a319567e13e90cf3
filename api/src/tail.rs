//! The shared poller behind every `GET /events/stream`: one query loop per API process reads
//! the settled new rows in commit order and broadcasts them; each stream filters in memory.
//! N tails cost the database one query per tick, not N.
//!
//! The hub's position and its broadcast are updated under one lock, so a subscriber learns
//! exactly where the batches it will receive begin; anything between its own cursor and that
//! position it reads from the database itself (also after falling behind the broadcast).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use logagg_core::db::search::CommitCursor;
use logagg_core::db::tail::{self, TailRow};
use logagg_core::db::{DbError, Pool};
use tokio::sync::{broadcast, Semaphore};

/// How often the poller looks for new rows.
const POLL_EVERY: Duration = Duration::from_millis(200);
/// Rows per poll query.
const POLL_ROWS: i64 = 2_000;
/// Batches a slow stream may fall behind before it re-reads from the database.
const BROADCAST_BATCHES: usize = 256;
/// Concurrent exports (each holds a database connection for its duration).
pub const MAX_EXPORTS: usize = 2;

/// Rows that follow the previous batch's last row directly in commit order.
#[derive(Debug)]
pub struct Batch {
    pub rows: Vec<TailRow>,
}

struct Inner {
    /// The last position broadcast (`None` while nobody listens: the next subscriber starts
    /// at the then current head).
    position: Option<CommitCursor>,
    sender: broadcast::Sender<Arc<Batch>>,
}

/// The poller and its subscribers.
pub struct TailHub {
    pool: Pool,
    inner: Mutex<Inner>,
    started: AtomicBool,
}

/// The limits and shared machinery of the read side.
pub struct Reads {
    pub hub: Arc<TailHub>,
    /// One permit per open stream (503 when none is left).
    pub streams: Arc<Semaphore>,
    pub exports: Arc<Semaphore>,
    pub heartbeat: Duration,
}

impl Reads {
    pub fn new(pool: Pool, max_streams: usize, heartbeat: Duration) -> Arc<Self> {
        Arc::new(Self {
            hub: TailHub::new(pool),
            streams: Arc::new(Semaphore::new(max_streams)),
            exports: Arc::new(Semaphore::new(MAX_EXPORTS)),
            heartbeat,
        })
    }
}

impl TailHub {
    fn new(pool: Pool) -> Arc<Self> {
        let (sender, _) = broadcast::channel(BROADCAST_BATCHES);
        Arc::new(Self {
            pool,
            inner: Mutex::new(Inner {
                position: None,
                sender,
            }),
            started: AtomicBool::new(false),
        })
    }

    /// A receiver of the batches after the returned position.
    pub async fn subscribe(
        self: &Arc<Self>,
    ) -> Result<(broadcast::Receiver<Arc<Batch>>, CommitCursor), DbError> {
        if !self.started.swap(true, Ordering::SeqCst) {
            tokio::spawn(Arc::clone(self).poll_forever());
        }
        let known = self.lock().position;
        let head = match known {
            Some(position) => position,
            None => {
                let mut conn = self.pool.get().await?;
                tail::head(&mut conn).await?
            }
        };
        let mut inner = self.lock();
        // Another subscriber (or the poller) may have set it meanwhile: theirs stands.
        let position = *inner.position.get_or_insert(head);
        Ok((inner.sender.subscribe(), position))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn poll_forever(self: Arc<Self>) {
        loop {
            match self.poll_once().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "tail poll failed; retrying"),
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Broadcasts one batch of new rows; `Ok(true)` when more are waiting.
    async fn poll_once(&self) -> Result<bool, DbError> {
        let from = {
            let mut inner = self.lock();
            if inner.sender.receiver_count() == 0 {
                inner.position = None;
            }
            inner.position
        };
        let Some(from) = from else { return Ok(false) };
        let mut conn = self.pool.get().await?;
        let rows = tail::after(&mut conn, from, POLL_ROWS).await?;
        drop(conn);
        let Some(last) = rows.last().map(|r| r.found.cursor()) else {
            return Ok(false);
        };
        let full = rows.len() as i64 == POLL_ROWS;
        let mut inner = self.lock();
        if inner.position == Some(from) {
            inner.position = Some(last);
            // No receiver left is fine: the next poll resets the position.
            let _ = inner.sender.send(Arc::new(Batch { rows }));
        }
        Ok(full)
    }
}
