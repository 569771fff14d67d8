//! The reviewer's queue: what awaits the caller, with approve and reject. The page calls
//! `services::review`, as `GET /api/v1/review/queue` and the decision endpoints do.

use super::{PageResult, Web, see_other};
use crate::http::error::AppError;
use crate::http::extract::Form;
use crate::http::views::QueueItemView;
use crate::services::review;
use axum::response::Response;
use minijinja::context;

/// `/review`: the same items as `GET /api/v1/review/queue`.
pub async fn queue(web: Web) -> Response {
    let r = queue_page(&web, None).await;
    web.respond(r)
}

async fn queue_page(web: &Web, error: Option<AppError>) -> PageResult {
    let reader = web.reader()?;
    let items: Vec<QueueItemView> = review::queue(&web.state.db, &reader.0)
        .await
        .map_err(AppError::from)?
        .into_iter()
        .map(QueueItemView::from)
        .collect();
    match error {
        None => web.page("review.html", context! { items => items }),
        Some(e) => web.render(
            e.code.status(),
            "review.html",
            context! { items => items, error => e.detail },
        ),
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct DecisionForm {
    csrf: String,
    revision: String,
    comment: String,
}

async fn decide(web: &Web, id: String, form: DecisionForm, approve: bool) -> PageResult {
    let writer = web.acting(&form.csrf)?;
    // A revision that is not a number names none, and is refused as not the one in review.
    let revision: i64 = form.revision.trim().parse().unwrap_or(-1);
    let comment = form.comment.trim();
    let comment = (!comment.is_empty()).then_some(comment);
    let outcome = review::decide(&web.state.db, &writer.0, &id, revision, approve, comment)
        .await
        .map_err(AppError::from);
    match outcome {
        Ok(_) => see_other("/review"),
        Err(e) if e.code.status().is_client_error() => queue_page(web, Some(e)).await,
        Err(e) => Err(e.into()),
    }
}

pub async fn approve(
    web: Web,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let r = decide(&web, id, form, true).await;
    web.respond(r)
}

pub async fn reject(
    web: Web,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let r = decide(&web, id, form, false).await;
    web.respond(r)
}
