//! Server-rendered pages. Templates live in `templates/` (mirroring this folder), are compiled
//! into the binary and auto-escaped.

use super::AppState;
use super::error::AppError;
use axum::extract::State;
use axum::response::Html;
use minijinja::context;

/// Builds the template environment once at start-up.
pub fn templates() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.add_template("base.html", include_str!("../../templates/base.html"))
        .expect("base.html parses");
    env.add_template("index.html", include_str!("../../templates/index.html"))
        .expect("index.html parses");
    env
}

fn render(state: &AppState, name: &str, ctx: minijinja::Value) -> Result<Html<String>, AppError> {
    let template = state
        .templates
        .get_template(name)
        .map_err(|e| AppError::internal(&e))?;
    template
        .render(ctx)
        .map(Html)
        .map_err(|e| AppError::internal(&e))
}

/// `/`: what this instance holds, and where the API is described.
pub async fn index(State(state): State<AppState>) -> Result<Html<String>, AppError> {
    let counts = state.db.lesson_counts().await?;
    let count = |s: &str| counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
    let (blobs, bytes) = state.db.blob_totals().await?;
    render(
        &state,
        "index.html",
        context! {
            published => count("published"),
            drafts => count("draft"),
            withdrawn => count("withdrawn"),
            objects => blobs,
            gib => format!("{:.2}", bytes as f64 / (1024.0 * 1024.0 * 1024.0)),
            database => state.db.backend().name(),
            storage => if state.config.embedded_s3() { "embedded" } else { "external" },
        },
    )
}
