//! The test harness: `TestApp` starts the real router on port 0 with a fresh database and a real
//! S3 endpoint, chosen by the environment so the same suite runs four ways:
//!
//! - `LECTERN_TEST_DATABASE=sqlite` (default: a temporary file) or `postgres` (a fresh database
//!   created on `LECTERN_TEST_PG_URL`, default `postgres://root@127.0.0.1:5432/test`);
//! - no `LECTERN_TEST_S3_ENDPOINT` (the embedded endpoint, on its own temporary folder) or an
//!   external S3 server at that URL (a fresh bucket per test).

#![allow(dead_code)]

use lectern::config::Config;
use lectern::db::Db;
use lectern::startup::Application;
use lectern::storage::ObjectStore;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub struct TestApp {
    pub app: Option<Application>,
    pub config: Config,
    pub base: String,
    pub token: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    /// The OpenAPI check of every response (see `contract.rs`).
    pub contract: std::sync::Arc<crate::contract::Contract>,
}

impl Drop for TestApp {
    /// A response that broke the OpenAPI document fails the test that received it.
    fn drop(&mut self) {
        let violations = self.contract.take_violations();
        if !violations.is_empty() && !std::thread::panicking() {
            panic!(
                "responses broke the OpenAPI document:\n{}",
                violations.join("\n")
            );
        }
    }
}

fn pg_admin_url() -> String {
    std::env::var("LECTERN_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

pub fn use_postgres() -> bool {
    std::env::var("LECTERN_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

/// A fresh, empty PostgreSQL database; its URL.
pub async fn fresh_postgres() -> String {
    let admin = pg_admin_url();
    let name = format!("lectern_test_{}", uuid::Uuid::new_v4().simple());
    let db = Db::connect(&admin, 2)
        .await
        .expect("PostgreSQL is reachable at LECTERN_TEST_PG_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(db.pool())
        .await
        .expect("can create a test database");
    db.close().await;
    let (base, _) = admin.rsplit_once('/').expect("URL has a database");
    format!("{base}/{name}")
}

/// A configuration for a fresh instance: temporary folders, port 0, fresh database and bucket.
pub async fn test_config(dir: &std::path::Path) -> Config {
    let mut c = Config {
        bind: "127.0.0.1:0".into(),
        data_dir: dir.join("data"),
        index_dir: dir.join("index"),
        s3_embedded_bind: "127.0.0.1:0".into(),
        upload_lease_secs: 5,
        ..Config::default()
    };
    c.database_url = if use_postgres() {
        fresh_postgres().await
    } else {
        format!("sqlite://{}?mode=rwc", dir.join("lectern.db").display())
    };
    if let Ok(endpoint) = std::env::var("LECTERN_TEST_S3_ENDPOINT") {
        c.s3_endpoint = endpoint;
        c.s3_bucket = format!("t-{}", uuid::Uuid::new_v4().simple());
        c.s3_access_key =
            std::env::var("LECTERN_TEST_S3_ACCESS_KEY").unwrap_or_else(|_| "test".into());
        c.s3_secret_key =
            std::env::var("LECTERN_TEST_S3_SECRET_KEY").unwrap_or_else(|_| "test".into());
    }
    c
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(dir.path()).await;
        tweak(&mut config);
        let contract = crate::contract::Contract::new();
        let app = Application::build_with(config.clone(), crate::contract::wrap(contract.clone()))
            .await
            .expect("the application starts");
        let mut t = Self::around(app, config, dir).await;
        t.contract = contract;
        t
    }

    /// A `TestApp` around an application the test built itself, with an operator token.
    pub async fn around(app: Application, config: Config, dir: tempfile::TempDir) -> Self {
        let base = format!("http://{}", app.addr());
        let token = lectern::domain::token::generate();
        app.state()
            .db
            .create_token("test", &lectern::domain::token::hash(&token))
            .await
            .expect("token stored");
        Self {
            app: Some(app),
            config,
            base,
            token,
            client: reqwest::Client::new(),
            dir,
            contract: crate::contract::Contract::new(),
        }
    }

    /// A client of a service running elsewhere (another process) at `base`, with `token`.
    pub fn remote(base: &str, token: &str, config: Config) -> Self {
        Self {
            app: None,
            config,
            base: base.to_owned(),
            token: token.to_owned(),
            client: reqwest::Client::new(),
            dir: tempfile::tempdir().expect("temp dir"),
            contract: crate::contract::Contract::new(),
        }
    }

    pub fn app(&self) -> &Application {
        self.app.as_ref().expect("running")
    }

    pub fn db(&self) -> &Db {
        &self.app().state().db
    }

    pub fn store(&self) -> &ObjectStore {
        &self.app().state().store
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(&self.token)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path)).bearer_auth(&self.token)
    }

    pub fn patch(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.patch(self.url(path)).bearer_auth(&self.token)
    }

    pub fn put(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.put(self.url(path)).bearer_auth(&self.token)
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.delete(self.url(path)).bearer_auth(&self.token)
    }

    /// Creates a draft lesson of `kind`; returns its id.
    pub async fn lesson(&self, kind: &str) -> String {
        self.draft(json!({ "title": "新时代乡村振兴战略解读", "kind": kind, "tags": ["乡村振兴"] }))
            .await
    }

    /// Uploads `data` as a plain streaming upload; returns the response.
    pub async fn upload(
        &self,
        lesson: &str,
        role: &str,
        filename: &str,
        data: Vec<u8>,
    ) -> reqwest::Response {
        self.post(&format!("/api/v1/lessons/{lesson}/assets"))
            .query(&[("role", role), ("filename", filename)])
            .body(data)
            .send()
            .await
            .unwrap()
    }

    /// Uploads `body` as a subtitle in `language`; returns the response.
    pub async fn upload_subtitle(
        &self,
        lesson: &str,
        filename: &str,
        language: &str,
        body: &str,
    ) -> reqwest::Response {
        self.post(&format!("/api/v1/lessons/{lesson}/assets"))
            .query(&[
                ("role", "subtitle"),
                ("filename", filename),
                ("language", language),
            ])
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// Creates a draft lesson from `body` with the operator token; its id.
    pub async fn draft(&self, body: Value) -> String {
        let r = self
            .post("/api/v1/lessons")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Creates and publishes a lesson from `body` with the operator token; its id.
    pub async fn published(&self, body: Value) -> String {
        let id = self.draft(body).await;
        let r = self
            .post(&format!("/api/v1/lessons/{id}/publish"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        id
    }

    /// `GET path` with the token, as JSON.
    pub async fn json(&self, path: &str) -> Value {
        self.get(path).send().await.unwrap().json().await.unwrap()
    }

    /// An anonymous search for `q`: the answer of `GET /api/v1/search`.
    pub async fn search(&self, q: &str) -> Value {
        let r = self
            .client
            .get(self.url("/api/v1/search"))
            .query(&[("q", q)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "search for {q}");
        r.json().await.unwrap()
    }

    /// The bytes of asset `id`, downloaded through the API.
    pub async fn content(&self, id: &str) -> bytes::Bytes {
        let r = self
            .get(&format!("/api/v1/assets/{id}/content"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap()
    }

    /// Uploads `data` as a chunked stream of 1 MiB pieces, so the server cannot rely on a
    /// `Content-Length`; the send may fail if the server answers before reading everything.
    pub async fn upload_streamed(
        &self,
        lesson: &str,
        role: &str,
        filename: &str,
        data: &[u8],
    ) -> reqwest::Result<reqwest::Response> {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            data.chunks(1 << 20).map(|c| Ok(c.to_vec())).collect();
        self.post(&format!("/api/v1/lessons/{lesson}/assets"))
            .query(&[("role", role), ("filename", filename)])
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
            .send()
            .await
    }

    /// How many multipart uploads are still open in the bucket: after a failed or refused upload
    /// there must be none. The embedded endpoint keeps one `.upload-<id>.json` file per open
    /// upload (s3s-fs has no ListMultipartUploads); an external server is asked.
    pub async fn open_multipart_uploads(&self) -> usize {
        if self.config.s3_endpoint.is_empty() {
            std::fs::read_dir(self.config.data_dir.join("objects"))
                .unwrap()
                .filter(|e| {
                    let name = e
                        .as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .into_owned();
                    name.starts_with(".upload-") && name.ends_with(".json")
                })
                .count()
        } else {
            s3_client(&self.config)
                .list_multipart_uploads()
                .bucket(&self.config.s3_bucket)
                .send()
                .await
                .expect("list multipart uploads")
                .uploads()
                .len()
        }
    }

    /// Every object key in the bucket under `prefix`.
    pub async fn object_keys(&self, prefix: &str) -> Vec<String> {
        self.store().list_keys(prefix).await.expect("list objects")
    }
}

/// A direct S3 client of the test's own, for checks that go around Lectern.
fn s3_client(c: &Config) -> aws_sdk_s3::Client {
    lectern::storage::sdk_client(&lectern::storage::S3Settings {
        endpoint: c.s3_endpoint.clone(),
        region: c.s3_region.clone(),
        bucket: c.s3_bucket.clone(),
        access_key: c.s3_access_key.clone(),
        secret_key: c.s3_secret_key.clone(),
        timeout: std::time::Duration::from_secs(30),
    })
}

/// A minimal MP4 header followed by `len` bytes of deterministic noise: sniffs as video/mp4.
pub fn mp4(len: usize) -> Vec<u8> {
    let mut v = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08free".to_vec();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ len as u64;
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub async fn problem(r: reqwest::Response) -> Value {
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(ct, "application/problem+json", "errors are problem bodies");
    let id = r
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = r.json().await.unwrap();
    assert!(
        body["code"].is_string() && body["status"].is_number() && body["title"].is_string(),
        "{body}"
    );
    // Every problem the service answers names its request, as the X-Request-Id header does
    // (only a request the HTTP parser refused before it was one has neither).
    assert_eq!(
        body["request_id"].as_str(),
        id.as_deref(),
        "the problem body and X-Request-Id name the same request: {body}"
    );
    body
}

/// Runs the real binary, so it can be killed with SIGKILL in the middle of a request.
pub struct Service {
    pub child: std::process::Child,
    pub base: String,
}

/// A child process a test runs. Only what cannot block the test's runtime is offered: the
/// asynchronous run to completion ([`Cmd::output`], [`Cmd::output_with_stdin`]) — never std's
/// blocking `output`, `status` or `wait` (see [`output`] for why). The std command inside stays
/// private to this module, whose [`Service`] alone spawns it (and only kills and reaps it).
pub struct Cmd(std::process::Command);

impl Cmd {
    pub fn new(program: impl AsRef<std::ffi::OsStr>) -> Self {
        Self(std::process::Command::new(program))
    }

    pub fn arg(&mut self, arg: impl AsRef<std::ffi::OsStr>) -> &mut Self {
        self.0.arg(arg);
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.0.args(args);
        self
    }

    pub fn env(
        &mut self,
        key: impl AsRef<std::ffi::OsStr>,
        value: impl AsRef<std::ffi::OsStr>,
    ) -> &mut Self {
        self.0.env(key, value);
        self
    }

    pub fn env_remove(&mut self, key: impl AsRef<std::ffi::OsStr>) -> &mut Self {
        self.0.env_remove(key);
        self
    }

    /// Runs it to its end (standard input empty) and returns what it printed.
    pub async fn output(self) -> std::process::Output {
        self.try_output().await.expect("the command runs")
    }

    /// As [`Cmd::output`], `None` when the program cannot be started (not installed).
    pub async fn try_output(self) -> Option<std::process::Output> {
        tokio::process::Command::from(self.0).output().await.ok()
    }

    /// Runs it to its end with `input` on its standard input (written while its output is
    /// read, so neither side can fill a pipe and wait for the other).
    pub async fn output_with_stdin(self, input: Vec<u8>) -> std::process::Output {
        use tokio::io::AsyncWriteExt;
        let mut c = tokio::process::Command::from(self.0);
        c.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().expect("the command starts");
        let mut stdin = child.stdin.take().expect("piped");
        let writer = tokio::spawn(async move {
            // The child may stop reading (or die) before the end.
            let _ = stdin.write_all(&input).await;
        });
        let out = child.wait_with_output().await.expect("the command runs");
        let _ = writer.await;
        out
    }
}

/// The real binary with `config`'s settings.
pub fn command(config: &lectern::config::Config) -> Cmd {
    let mut c = Cmd::new(env!("CARGO_BIN_EXE_lectern"));
    c.env("LECTERN_DATA_DIR", &config.data_dir)
        .env("LECTERN_INDEX_DIR", &config.index_dir)
        .env("LECTERN_DATABASE_URL", &config.database_url)
        .env("LECTERN_S3_ENDPOINT", &config.s3_endpoint)
        .env("LECTERN_S3_BUCKET", &config.s3_bucket)
        .env("LECTERN_S3_ACCESS_KEY", &config.s3_access_key)
        .env("LECTERN_S3_SECRET_KEY", &config.s3_secret_key)
        .env("LECTERN_S3_EMBEDDED_BIND", "127.0.0.1:0")
        .env("LECTERN_UPLOAD_LEASE_SECS", "2")
        .env("LECTERN_INDEX_BATCH", config.index_batch.to_string())
        .env("RUST_LOG", "warn");
    c
}

impl Service {
    pub async fn start(config: &lectern::config::Config) -> Self {
        Self::start_with(config, &[]).await
    }

    /// Starts the service with extra environment variables. It binds port 0 and announces the
    /// port it got on standard output, so no other process can take the port in between.
    pub async fn start_with(config: &lectern::config::Config, env: &[(&str, &str)]) -> Self {
        use std::io::BufRead;
        let mut child = command(config)
            .0
            .envs(env.iter().copied())
            .env("LECTERN_BIND", "127.0.0.1:0")
            .arg("serve")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("lectern starts");
        let stdout = child.stdout.take().expect("piped");
        // Owned from here on, so a failed start kills the child when the panic drops it.
        let mut service = Self {
            child,
            base: String::new(),
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        // Reads the announcement, then keeps draining so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(base) = line.strip_prefix("lectern listening on ") {
                    let _ = tx.send(base.to_owned());
                }
            }
        });
        let started = std::time::Instant::now();
        let base = loop {
            let wait = std::time::Duration::from_millis(100);
            if let Ok(Some(base)) = tokio::time::timeout(wait, rx.recv()).await {
                break base;
            }
            if let Some(status) = service.child.try_wait().expect("child status") {
                panic!("lectern exited before listening ({status}); its log is above");
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "lectern did not open its port within 30 s"
            );
        };
        for _ in 0..200 {
            if let Ok(r) = reqwest::get(format!("{base}/health/ready")).await
                && r.status() == 200
            {
                service.base = base;
                return service;
            }
            if let Some(status) = service.child.try_wait().expect("child status") {
                panic!("lectern exited before it was ready ({status}); its log is above");
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("lectern listened at {base} but did not become ready within 20 s");
    }

    pub fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a command to its end without blocking the test's runtime, and returns what it printed.
///
/// A test's in-process service runs on the test's own (single-threaded) runtime: a blocking
/// wait for a child process would stop the service mid-step — holding SQLite's write lock
/// after `BEGIN IMMEDIATE` while the child waits for that very lock. Every command a test runs
/// to completion goes through here (or [`Cmd`]'s own methods): a [`Cmd`] has no blocking wait
/// to call, so the rule is kept by the type, not by review.
pub async fn output(c: Cmd) -> std::process::Output {
    c.output().await
}

/// An operator token made by the real binary's `lectern token create` on `config`.
pub async fn cli_token(config: &lectern::config::Config) -> String {
    let mut c = command(config);
    c.args(["token", "create", "--name", "t"]);
    let out = output(c).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned()
}

/// A PDF of US-letter pages, each saying its text (ASCII, no parentheses or backslashes) above
/// a blue square, written by hand (objects, then a cross-reference table with their offsets).
pub fn pdf_with(texts: &[&str]) -> Vec<u8> {
    let pages = texts.len();
    let mut objects: Vec<String> = Vec::new();
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    objects.push("<< /Type /Catalog /Pages 2 0 R >>".into());
    objects.push(format!(
        "<< /Type /Pages /Kids [{}] /Count {pages} >>",
        kids.join(" ")
    ));
    objects.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into());
    for (i, text) in texts.iter().enumerate() {
        let content = format!("BT /F1 48 Tf 72 700 Td ({text}) Tj ET 0 0 1 rg 72 100 300 300 re f");
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
             /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * i
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ));
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{o}\nendobj\n", i + 1).bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).bytes());
    for off in offsets {
        out.extend(format!("{off:010} 00000 n \n").bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .bytes(),
    );
    out
}
