//! What a handler receives: the state, the caller (found once by `auth`), the text the route
//! template's `{name}` part matched, the raw query string, the headers and the body, unread.

use bytes::Bytes;
use futures::stream::BoxStream;
use warp::http::HeaderMap;

use crate::auth::Caller;
use crate::errors::ApiError;
use crate::handlers::events::{parse_query_string, QueryParams};
use crate::state::AppState;

/// A request body as a stream of chunks.
pub type Body = BoxStream<'static, Result<Bytes, warp::Error>>;

pub struct Request {
    pub state: AppState,
    pub caller: Caller,
    /// What the template's `{name}` part matched (percent-encoded as sent), `""` for a
    /// literal template.
    pub matched: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Body,
}

impl Request {
    /// The query string's parameters, or the 400 a malformed one answers.
    pub fn params(&self) -> Result<QueryParams, ApiError> {
        parse_query_string(&self.query)
    }

    /// One header's value, when it is text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}
