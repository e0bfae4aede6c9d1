use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::api::ErrorBody;

/// Errors of the service and of its client. On the server each maps to one HTTP status
/// ([`ServeError::status`]); the client turns a status back into the same variant.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The request is malformed: a ciphertext, key, query or body the service cannot use.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// No credentials, or credentials that are not a token.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// A token that is not the one of the key the request names.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// No such key or model.
    #[error("not found: {0}")]
    NotFound(String),
    /// The client has as many keys, or as many bytes of keys, as its quota allows.
    #[error("quota exceeded: {0}")]
    Quota(String),
    /// A body over the service's limit for its route, by its declared length or while it
    /// was read.
    #[error("body too large: {0}")]
    TooLarge(String),
    /// The service's start: a model or an option it cannot use.
    #[error("configuration: {0}")]
    Config(String),
    /// Anything else on the server; the client sees the reason too.
    #[error("internal error: {0}")]
    Internal(String),
    /// The client could not reach the service (after its retries), or the answer was not
    /// one of the API's.
    #[error("transport: {0}")]
    Transport(String),
    /// The service answered with a status this client does not know.
    #[error("status {status}: {message}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The `error` of the answer's JSON body, or the start of the body if it was not
        /// JSON.
        message: String,
    },
}

impl ServeError {
    /// A [`ServeError::BadRequest`] for `reason`.
    pub fn bad(reason: impl Into<String>) -> Self {
        ServeError::BadRequest(reason.into())
    }

    /// The HTTP status the service answers this error with: 400, 401, 403, 404, 429 and 413
    /// for the request's faults, 500 for the rest, and a [`ServeError::Status`]'s own code.
    pub fn status(&self) -> StatusCode {
        match self {
            ServeError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ServeError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ServeError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServeError::NotFound(_) => StatusCode::NOT_FOUND,
            ServeError::Quota(_) => StatusCode::TOO_MANY_REQUESTS,
            ServeError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ServeError::Config(_) | ServeError::Internal(_) | ServeError::Transport(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ServeError::Status { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    /// The reason alone, without the kind `Display` puts before it: what an error response
    /// carries, since its status already says the kind.
    pub fn reason(&self) -> &str {
        match self {
            ServeError::BadRequest(m)
            | ServeError::Unauthorized(m)
            | ServeError::Forbidden(m)
            | ServeError::NotFound(m)
            | ServeError::Quota(m)
            | ServeError::TooLarge(m)
            | ServeError::Config(m)
            | ServeError::Internal(m)
            | ServeError::Transport(m)
            | ServeError::Status { message: m, .. } => m,
        }
    }

    /// The client's reading of an error response.
    pub fn from_status(status: u16, message: String) -> Self {
        match status {
            400 => ServeError::BadRequest(message),
            401 => ServeError::Unauthorized(message),
            403 => ServeError::Forbidden(message),
            404 => ServeError::NotFound(message),
            413 => ServeError::TooLarge(message),
            429 => ServeError::Quota(message),
            500 => ServeError::Internal(message),
            _ => ServeError::Status { status, message },
        }
    }
}

impl IntoResponse for ServeError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.reason().to_string(),
        };
        (self.status(), Json(body)).into_response()
    }
}
