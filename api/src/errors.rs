//! The API's error policy: every failure becomes an [`ApiError`], and this module is the one
//! place that maps errors (and warp's rejections) to an HTTP status and a JSON
//! [`ErrorBody`]. An internal error's detail goes to the log only; its body says that an
//! internal error happened, and the router adds the request id (see `routes`).

use std::convert::Infallible;

use logagg_core::contract::ErrorBody;
pub use logagg_core::contract::ItemError;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Rejection, Reply};

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    #[error("{message}")]
    Unprocessable {
        message: String,
        details: Vec<ItemError>,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("{0}")]
    Unavailable(String),
    /// The text is for the log; the client only learns that an internal error happened.
    #[error("internal error: {0}")]
    Internal(String),
}

impl warp::reject::Reject for ApiError {}

impl From<logagg_core::db::DbError> for ApiError {
    fn from(error: logagg_core::db::DbError) -> Self {
        match error {
            logagg_core::db::DbError::Pool(e) => {
                ApiError::Unavailable(format!("database unavailable: {e}"))
            }
            // The connection broke under the query (PostgreSQL restarting): retryable too.
            logagg_core::db::DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ClosedConnection,
                info,
            )) => ApiError::Unavailable(format!("database unavailable: {}", info.message())),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl ApiError {
    /// The body the client sees: never the detail of an internal error.
    pub fn body(&self) -> ErrorBody {
        match self {
            ApiError::Unprocessable { message, details } => ErrorBody {
                details: Some(details.clone()),
                ..ErrorBody::message(message.clone())
            },
            ApiError::Internal(_) => ErrorBody::internal(None),
            other => ErrorBody::message(other.to_string()),
        }
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response =
            warp::reply::with_status(warp::reply::json(&self.body()), status).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::MethodNotAllowed { allow } => {
                if let Ok(allow) = HeaderValue::from_str(allow) {
                    headers.insert(header::ALLOW, allow);
                }
            }
            ApiError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::TooManyRequests { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            _ => {}
        }
        match &self {
            // Logged inside the request's span, so the line carries the request id the client
            // got in its body.
            ApiError::Internal(detail) => tracing::error!(%status, %detail, "internal error"),
            _ if status.is_server_error() => {
                tracing::warn!(%status, error = %self, "request failed")
            }
            _ => {}
        }
        response
    }
}

/// Turns every rejection into a JSON error (the single `recover` of the router).
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    let error = if let Some(error) = rejection.find::<ApiError>() {
        clone_error(error)
    } else if rejection.is_not_found() {
        ApiError::NotFound("no such route".into())
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::PayloadTooLarge("request body is larger than the configured limit".into())
    } else if rejection.find::<warp::reject::LengthRequired>().is_some() {
        ApiError::BadRequest("a Content-Length header is required".into())
    } else if let Some(e) = rejection.find::<warp::reject::InvalidQuery>() {
        ApiError::BadRequest(format!("invalid query string: {e}"))
    } else if let Some(e) = rejection.find::<warp::reject::InvalidHeader>() {
        ApiError::BadRequest(e.to_string())
    } else if let Some(e) = rejection.find::<warp::reject::MissingHeader>() {
        ApiError::BadRequest(e.to_string())
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::MethodNotAllowed {
            allow: "GET".into(),
        }
    } else {
        ApiError::Internal(format!("unhandled rejection: {rejection:?}"))
    };
    Ok(error.into_response())
}

fn clone_error(error: &ApiError) -> ApiError {
    match error {
        ApiError::BadRequest(m) => ApiError::BadRequest(m.clone()),
        ApiError::Unauthorized => ApiError::Unauthorized,
        ApiError::Forbidden(m) => ApiError::Forbidden(m.clone()),
        ApiError::TooManyRequests {
            message,
            retry_after,
        } => ApiError::TooManyRequests {
            message: message.clone(),
            retry_after: *retry_after,
        },
        ApiError::PayloadTooLarge(m) => ApiError::PayloadTooLarge(m.clone()),
        ApiError::UnsupportedMediaType => ApiError::UnsupportedMediaType,
        ApiError::Unprocessable { message, details } => ApiError::Unprocessable {
            message: message.clone(),
            details: details.clone(),
        },
        ApiError::NotFound(m) => ApiError::NotFound(m.clone()),
        ApiError::MethodNotAllowed { allow } => ApiError::MethodNotAllowed {
            allow: allow.clone(),
        },
        ApiError::Unavailable(m) => ApiError::Unavailable(m.clone()),
        ApiError::Internal(m) => ApiError::Internal(m.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_error_keeps_its_detail_out_of_the_body() {
        let error = ApiError::from(logagg_core::db::DbError::Query(
            diesel::result::Error::NotFound,
        ));
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_string(&error.body()).unwrap();
        assert_eq!(body, r#"{"error":"internal error"}"#);
        let secret = ApiError::Internal("password=hunter2 relation \"events\"".into());
        let body = serde_json::to_string(&secret.body()).unwrap();
        assert!(
            !body.contains("hunter2") && !body.contains("events"),
            "{body}"
        );
    }

    #[test]
    fn a_422_always_carries_its_details() {
        let error = ApiError::Unprocessable {
            message: "empty".into(),
            details: vec![],
        };
        assert_eq!(
            serde_json::to_string(&error.body()).unwrap(),
            r#"{"details":[],"error":"empty"}"#
        );
    }
}
