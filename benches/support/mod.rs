//! What the in-process benches share: a service on the embedded S3 endpoint in a temporary
//! folder, reached over HTTP with an operator token.

use lectern::config::Config;
use lectern::startup::Application;
use std::path::Path;

/// A running service and how to call it.
pub struct Service {
    pub app: Application,
    pub token: String,
    pub base: String,
}

/// Starts a service with its data in `dir` on `database_url`, after `tweak`, and makes an
/// operator token.
pub async fn start(
    dir: &Path,
    database_url: String,
    tweak: impl FnOnce(&mut Config),
) -> anyhow::Result<Service> {
    let mut config = Config {
        bind: "127.0.0.1:0".into(),
        data_dir: dir.join("data"),
        index_dir: dir.join("index"),
        s3_embedded_bind: "127.0.0.1:0".into(),
        database_url,
        ..Config::default()
    };
    tweak(&mut config);
    let app = Application::build(config).await?;
    let token = lectern::domain::token::generate();
    app.state()
        .db
        .create_token("bench", &lectern::domain::token::hash(&token))
        .await?;
    let base = format!("http://{}", app.addr());
    Ok(Service { app, token, base })
}
