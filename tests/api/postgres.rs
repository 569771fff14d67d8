//! Connecting to PostgreSQL: TLS (`sslmode=require`, `verify-ca` with `sslrootcert`, a wrong root
//! refused), start-up failures that say at once what is wrong and where, and a request that
//! gets no connection answered 503 within the pool's acquire timeout.
//!
//! These are PostgreSQL's alone: they make their assertions in the suite's PostgreSQL run
//! (`LECTERN_TEST_DATABASE=postgres`) and pass trivially in the SQLite run, which has no server
//! to talk to. They never skip in the PostgreSQL run: `scripts/test` turns SSL on in the local
//! server when it is off, and a server without it fails here with the reason.
//!
//! The root certificate for `verify-ca` is `LECTERN_TEST_PG_ROOT_CERT` (set by `scripts/test`),
//! else the server's own certificate (`SHOW ssl_cert_file`), which is self-signed on a Debian
//! server (the "snakeoil" certificate) and on what `scripts/test` generates.

use crate::common::use_postgres;
use lectern::db::{ConnectError, Db};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn admin_url() -> String {
    std::env::var("LECTERN_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

/// `url` with `params` added to its query.
fn with_params(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

/// The `host:port` of `url`, as the error messages name it.
fn address(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host_port = rest.split(['/', '?']).next().unwrap_or("");
    let host_port = host_port.rsplit('@').next().unwrap_or(host_port);
    if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    }
}

/// Whether the server reports this session's connection as encrypted.
async fn session_is_ssl(db: &Db) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(db.pool())
        .await
        .expect("pg_stat_ssl answers")
}

/// The certificate that signed the server's: see the module's comment.
async fn root_cert() -> PathBuf {
    if let Ok(path) = std::env::var("LECTERN_TEST_PG_ROOT_CERT") {
        return PathBuf::from(path);
    }
    let db = Db::connect(&admin_url(), 2)
        .await
        .expect("PostgreSQL answers");
    let show = |setting: &'static str| {
        let pool = db.pool().clone();
        async move {
            sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!("SHOW {setting}")))
                .fetch_one(&pool)
                .await
                .expect("the server shows its settings")
        }
    };
    let file = PathBuf::from(show("ssl_cert_file").await);
    let path = if file.is_absolute() {
        file
    } else {
        PathBuf::from(show("data_directory").await).join(file)
    };
    db.close().await;
    path
}

/// The message of a failed connection, and how long it took to fail.
async fn failure(url: &str) -> (String, Duration) {
    let started = Instant::now();
    let e = Db::connect(url, 2)
        .await
        .expect_err("the connection is refused");
    let elapsed = started.elapsed();
    // What start-up prints: the error and its causes.
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    assert!(
        matches!(e, ConnectError::Postgres { .. }),
        "not reported as a PostgreSQL connection failure: {message}"
    );
    (message, elapsed)
}

#[tokio::test]
async fn sslmode_require_connects_over_tls() {
    if !use_postgres() {
        return;
    }
    let url = with_params(&admin_url(), "sslmode=require");
    let db = Db::connect(&url, 2)
        .await
        .unwrap_or_else(|e| panic!("sslmode=require: {e:#?}"));
    assert!(session_is_ssl(&db).await, "the server says this is not SSL");
    db.close().await;
    // The opposite, so the check above can tell: sslmode=disable is plain.
    let db = Db::connect(&with_params(&admin_url(), "sslmode=disable"), 2)
        .await
        .unwrap();
    assert!(!session_is_ssl(&db).await);
    db.close().await;
}

#[tokio::test]
async fn sslmode_verify_ca_accepts_the_servers_root_and_refuses_another() {
    if !use_postgres() {
        return;
    }
    let root = root_cert().await;
    assert!(
        std::fs::read(&root).is_ok(),
        "cannot read the server's root certificate {}",
        root.display()
    );
    let url = with_params(
        &admin_url(),
        &format!("sslmode=verify-ca&sslrootcert={}", root.display()),
    );
    let db = Db::connect(&url, 2).await.unwrap_or_else(|e| {
        panic!(
            "verify-ca with {}: {e} (scripts/test gives the server a certificate of its own, \
                 for the name lectern-test-server, and names it in LECTERN_TEST_PG_ROOT_CERT)",
            root.display()
        )
    });
    assert!(session_is_ssl(&db).await);
    db.close().await;

    // The certificate names `lectern-test-server`, not 127.0.0.1: verify-ca, which checks the
    // chain only, connected above; verify-full, which checks the name too, refuses it.
    let url = with_params(
        &admin_url(),
        &format!("sslmode=verify-full&sslrootcert={}", root.display()),
    );
    let (message, _) = failure(&url).await;
    assert!(message.contains("TLS failed"), "{message}");

    let wrong = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tls/unrelated-ca.pem"
    );
    let url = with_params(
        &admin_url(),
        &format!("sslmode=verify-ca&sslrootcert={wrong}"),
    );
    let (message, elapsed) = failure(&url).await;
    assert!(message.contains(&address(&admin_url())), "{message}");
    assert!(message.contains("TLS failed"), "{message}");
    assert!(message.contains("sslrootcert"), "{message}");
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

#[tokio::test]
async fn a_refused_port_or_unknown_database_fails_at_once_naming_the_address() {
    if !use_postgres() {
        return;
    }
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://root@127.0.0.1:{port}/test");
    let (message, elapsed) = failure(&url).await;
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(message.contains("connection refused"), "{message}");
    // The cause in the message proves the failure is not a pool timeout; the bound only
    // catches a retry loop (the acquire timeout is 5 s) and leaves room for a busy machine.
    assert!(elapsed < Duration::from_millis(4500), "took {elapsed:?}");

    let (base, _) = admin_url()
        .rsplit_once('/')
        .map(|(b, d)| (b.to_owned(), d.to_owned()))
        .unwrap();
    let (message, elapsed) = failure(&format!("{base}/lectern_no_such_database")).await;
    assert!(message.contains("does not exist"), "{message}");
    assert!(message.contains(&address(&admin_url())), "{message}");
    assert!(elapsed < Duration::from_millis(4500), "took {elapsed:?}");

    // The binary itself: `lectern migrate` stops with the reason on standard error.
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::common::test_config(dir.path()).await;
    config.database_url = url;
    let started = Instant::now();
    let mut c = crate::common::command(&config);
    c.arg("migrate");
    let out = crate::common::output(c).await;
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}")) && stderr.contains("connection refused"),
        "{stderr}"
    );
    // A process start included: far below the 30 s a pool timeout took before.
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
}

#[tokio::test]
async fn a_request_that_gets_no_database_connection_is_a_503_with_retry_after() {
    if !use_postgres() {
        return;
    }
    let t = crate::common::TestApp::spawn_with(|c| c.database_max_connections = 2).await;
    // Hold every connection of the pool, as an outage or an overload would leave it.
    let held = (
        t.db().pool().acquire().await.unwrap(),
        t.db().pool().acquire().await.unwrap(),
    );
    let started = Instant::now();
    let r = t.get("/api/v1/orgs").send().await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
    let body = crate::common::problem(r).await;
    assert_eq!(body["code"], "unavailable");
    // The pool's acquire timeout for PostgreSQL, not half a minute.
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    drop(held);
    let r = t.get("/api/v1/orgs").send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// Class 3 of issue 10: every PostgreSQL connection carries a statement timeout, so a statement
/// the server never finishes (here: waiting on a lock another client holds and never releases,
/// as a frozen server or a stuck migration would leave it) is cancelled, and the request is a
/// 503 problem within about that timeout — not a hang, not a 500. The default is set on
/// connect; the URL can set its own (`options[statement_timeout]`, used here to keep it short).
#[tokio::test]
async fn a_statement_the_server_never_finishes_is_a_503_within_the_statement_timeout() {
    if !use_postgres() {
        return;
    }
    // The default, on a URL that does not set one.
    let plain = crate::common::TestApp::spawn().await;
    let shown: String = sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(plain.db().pool())
        .await
        .unwrap();
    assert_eq!(
        shown,
        format!("{}s", lectern::db::POSTGRES_STATEMENT_TIMEOUT.as_secs())
    );
    drop(plain);

    let t = crate::common::TestApp::spawn_with(|c| {
        c.database_url = with_params(&c.database_url, "options[statement_timeout]=1000");
    })
    .await;
    let lesson = t.lesson("video").await;
    // Another client locks the lessons and holds the lock.
    let other = Db::connect(&t.config.database_url, 2).await.unwrap();
    let mut tx = other.pool().begin().await.unwrap();
    sqlx::query("LOCK TABLE lessons IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    let started = Instant::now();
    let r = t
        .get(&format!("/api/v1/lessons/{lesson}"))
        .send()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let body = crate::common::problem(r).await;
    assert_eq!(body["code"], "unavailable", "{body}");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(4),
        "took {elapsed:?}"
    );
    // Released: answered again, on the same pool.
    tx.rollback().await.unwrap();
    let r = t
        .get(&format!("/api/v1/lessons/{lesson}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    other.close().await;
}
