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

/// The database of a run: a SQLite file in `dir`, or a fresh PostgreSQL database on the server
/// at `LECTERN_TEST_PG_URL` (default `postgres://root@127.0.0.1:5432/test`).
#[allow(dead_code)]
pub async fn database_url(kind: &str, dir: &std::path::Path) -> anyhow::Result<String> {
    if kind != "postgres" {
        return Ok(format!(
            "sqlite://{}?mode=rwc",
            dir.join("lectern.db").display()
        ));
    }
    let admin = std::env::var("LECTERN_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into());
    let name = format!("lectern_bench_{}", uuid::Uuid::new_v4().simple());
    let db = lectern::db::Db::connect(&admin, 2).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(db.pool())
        .await?;
    db.close().await;
    let (base, _) = admin.rsplit_once('/').expect("a database in the URL");
    Ok(format!("{base}/{name}"))
}
