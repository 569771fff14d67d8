//! The reviewer's queue: what awaits the caller, with approve and reject.

use super::{PageResult, Web, api_body, see_other};
use crate::http::api::v1::review;
use crate::http::error::AppError;
use crate::http::extract::{Form, Json, Path};
use axum::extract::State;
use axum::response::Response;
use minijinja::context;
use serde_json::json;

/// `/review`: the same items as `GET /api/v1/review/queue`.
pub async fn queue(web: Web) -> Response {
    let r = queue_page(&web, None).await;
    web.respond(r)
}

async fn queue_page(web: &Web, error: Option<AppError>) -> PageResult {
    let reader = web.reader()?;
    let Json(queue) = review::queue(State(web.state.clone()), reader).await?;
    let items = queue["items"].clone();
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
    let revision: i64 = form.revision.trim().parse().unwrap_or(-1);
    let comment = form.comment.trim();
    let body = json!({
        "revision": revision,
        "comment": (!comment.is_empty()).then_some(comment),
    });
    let outcome = match api_body(body) {
        Ok(body) if approve => {
            review::approve(State(web.state.clone()), writer, Path(id), Json(body)).await
        }
        Ok(body) => review::reject(State(web.state.clone()), writer, Path(id), Json(body)).await,
        Err(e) => Err(e),
    };
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
