//! Error responses several routes share, for their OpenAPI annotations (the 500, 401 and 403
//! every route may answer are added by `openapi::CommonResponses`).

use logagg_core::contract::ErrorBody;

/// The errors of a filtered read: a bad parameter, or no database.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ReadErrors {
    /// Bad query parameter (named in the error)
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// Database unavailable, or too many reads of this kind running (retry after Retry-After)
    #[response(status = 503)]
    Unavailable(ErrorBody),
}
