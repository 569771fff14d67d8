//! Version 1 of the JSON API.

pub mod assets;
pub mod changes;
pub mod hls;
pub mod jobs;
pub mod learning;
pub mod lessons;
pub mod media;
pub mod orgs;
pub mod platforms;
pub mod positions;
pub mod reports;
pub mod review;
pub mod search;
pub mod subtitles;
pub mod uploads;
pub mod users;

use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::Acting;

/// Refuses a step the caller may not take (see `services::deny`). Returns the 401 or 403 to
/// answer with.
pub async fn denied(
    state: &AppState,
    acting: &Acting,
    action: &str,
    target_kind: &str,
    target_id: &str,
    org_id: Option<&str>,
) -> AppError {
    crate::services::deny(&state.db, acting, action, target_kind, target_id, org_id)
        .await
        .into()
}

/// A JSON body that may be absent: an empty body is `None`.
pub fn optional_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<Option<T>, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body).map(Some).map_err(|e| {
        AppError::new(
            crate::http::error::Code::InvalidRequest,
            format!("the body is not valid JSON for this request: {e}"),
        )
    })
}

/// Tells a field set to `null` (`Some(None)`) from an absent one (`None`).
pub fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}
