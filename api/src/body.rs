//! Request bodies read with a size limit. A body the server leaves unread poisons the
//! keep-alive connection (the client's next request on it fails), so every answer either reads
//! the body to its end or tells the client `Connection: close`.

use std::pin::Pin;

use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use warp::http::{header, HeaderValue};
use warp::reply::Response;

/// A request body as warp streams it: chunks of bytes, or the transport's error.
pub trait BodyStream: Stream<Item = Result<Self::Chunk, warp::Error>> {
    type Chunk: Buf;
}

impl<S, B> BodyStream for S
where
    S: Stream<Item = Result<B, warp::Error>> + ?Sized,
    B: Buf,
{
    type Chunk = B;
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// It grew past the limit; the rest is left unread.
    TooLarge,
    /// The client broke off or sent bad framing.
    Read(String),
}

/// Collects the body, stopping as soon as it grows past `limit` (a chunked body has no
/// Content-Length to check up front).
pub async fn read_limited<S>(mut body: Pin<&mut S>, limit: u64) -> Result<Bytes, BodyError>
where
    S: BodyStream + ?Sized,
{
    let mut collected = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
        if (collected.len() + chunk.remaining()) as u64 > limit {
            return Err(BodyError::TooLarge);
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            let n = part.len();
            collected.extend_from_slice(part);
            chunk.advance(n);
        }
    }
    Ok(collected.freeze())
}

/// Reads and discards (the rest of) the body, up to `limit` more bytes; true when it was read
/// to its end.
pub async fn drain<S>(mut body: Pin<&mut S>, limit: u64) -> bool
where
    S: BodyStream + ?Sized,
{
    let mut seen = 0u64;
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else { return false };
        seen += chunk.remaining() as u64;
        if seen > limit {
            return false;
        }
    }
    true
}

/// Marks the response so the client does not reuse the connection (its body was left unread).
pub fn close_connection(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
