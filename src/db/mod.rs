//! The only place with SQL. One pool, one set of queries written once with `$n` placeholders that
//! both SQLite and PostgreSQL accept, and one migrations folder per backend with the same versions.
//!
//! Invariants:
//! - Every write that changes what someone outside may see appends to the change log in the same
//!   transaction, as the transaction's last statement (see [`changes::append`]).
//! - Write transactions on SQLite start with `BEGIN IMMEDIATE`, so two writers never deadlock on
//!   upgrading a read lock; on PostgreSQL a plain `BEGIN` suffices.

pub mod assets;
pub mod audit;
pub mod backup;
pub mod changes;
pub mod jobs;
pub mod learning;
pub mod lessons;
pub mod media;
pub mod orgs;
pub mod platforms;
pub mod progress;
pub mod reports;
pub mod rules;
mod states;
pub mod subtitles;
pub mod synonyms;
pub mod texts;
pub mod tokens;
pub mod transcripts;
pub mod uploads;
pub mod users;
pub mod workflow;
pub mod xapi;
pub mod xapi_documents;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Connection, Executor, Transaction};
use std::str::FromStr;
use std::time::Duration;

pub type Tx = Transaction<'static, Any>;

/// Which database server is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("the database URL must start with sqlite: or postgres:")]
    UnknownScheme,
    #[error("cannot connect to the database")]
    Connect(#[from] sqlx::Error),
    /// The first connection to PostgreSQL failed: where to, and why in words an operator can act
    /// on (never the password).
    #[error("cannot connect to PostgreSQL at {address}: {reason}")]
    Postgres { address: String, reason: String },
    #[error("cannot apply the database migrations")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A credential whose last use is recorded ([`Db::note_use`]).
#[derive(Debug, Clone, Copy)]
pub(super) enum Credential {
    ApiToken,
    PlatformKey,
}

/// The database: a pool for reads (and single-statement writes), a smaller one for write
/// transactions, and the backend they talk to.
///
/// *Rationale for two pools:* a write transaction waits for the one writer lock (SQLite's, or
/// the change log head's row lock on PostgreSQL) while holding its connection. With one pool,
/// twenty writers queued like that held every connection, and reads waited behind them for
/// seconds. Writers now queue for the write pool instead, and reads keep theirs.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    writes: AnyPool,
    backend: Backend,
    /// Signalled after a transaction that queued jobs commits, so this process's job runner
    /// starts them at once (other instances find them when they poll).
    jobs_queued: std::sync::Arc<tokio::sync::Notify>,
    /// The player's reports waiting for this process's writer (`progress`).
    progress: progress::Queue,
    /// Lessons the player's reports read, remembered for seconds (`learning`).
    recent_lessons: learning::RecentLessons,
}

/// How many connections write transactions get: one on SQLite, where only one writer runs at a
/// time anyway (the others then queue in order, not in SQLite's busy-wait loop), and a quarter
/// of the pool on PostgreSQL.
fn write_connections(backend: Backend, max_connections: u32) -> u32 {
    match backend {
        Backend::Sqlite => 1,
        Backend::Postgres => (max_connections / 2).max(2),
    }
}

/// The options of either pool. `statement_timeout`: set on each new PostgreSQL connection
/// (`None` when the URL sets its own).
fn pool_options(
    backend: Backend,
    max_connections: u32,
    statement_timeout: Option<Duration>,
) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(match backend {
            Backend::Sqlite => SQLITE_ACQUIRE_TIMEOUT,
            Backend::Postgres => POSTGRES_ACQUIRE_TIMEOUT,
        })
        // A SQLite connection is a file in this process: checking it with a round trip to its
        // worker thread before every use only adds latency. A PostgreSQL connection can have
        // been dropped by the server, so those are checked.
        .test_before_acquire(backend == Backend::Postgres)
        // A connection must never go back to the pool inside a transaction. SQLite rolls a
        // transaction back by itself when it fails with a full disk (and some I/O errors); sqlx
        // then cannot roll it back and still counts it open, so the next `BEGIN` on that
        // connection would fail forever. Such a connection is closed instead. A transaction
        // dropped normally has its rollback queued: the ping flushes it first.
        .after_release(|conn, _| {
            Box::pin(async move {
                if conn.is_in_transaction() {
                    conn.ping().await?;
                }
                Ok(!conn.is_in_transaction())
            })
        })
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000;",
                    )
                    .await?;
                }
                if let Some(limit) = statement_timeout {
                    conn.execute(sqlx::AssertSqlSafe(format!(
                        "SET statement_timeout = {}",
                        limit.as_millis()
                    )))
                    .await?;
                }
                Ok(())
            })
        })
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long the first connection to PostgreSQL (TCP, TLS and authentication) may take at
/// start-up before it is reported as unanswered. Refusals, failed authentication, unknown
/// databases and certificate errors come back at once and are reported as they are.
const POSTGRES_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request waits for a pooled PostgreSQL connection. When the server is down the pool
/// keeps trying to connect until this runs out, so it is what a request costs during an outage:
/// a few seconds, then a clear 503 (see `http::error`), rather than half a minute of a hanging
/// client and an opaque 500.
const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest one PostgreSQL statement may run (`statement_timeout`, set on every connection),
/// unless the URL sets its own (`?options[statement_timeout]=5000`, in milliseconds; `0` for
/// none). A server that stops answering mid-statement (frozen, or a lock some other client holds
/// forever) then cancels the statement (SQLSTATE 57014), which a request answers with a 503
/// (`http::error`) instead of hanging until the client gives up. No request's statement comes
/// near it; the migrations, which may rewrite a large table, run without it.
pub const POSTGRES_STATEMENT_TIMEOUT: Duration = Duration::from_secs(15);

/// How often a credential's use is written at most (`last_used_at`, [`Db::note_use`]): ten
/// minutes.
pub const USE_NOTED_EVERY_MS: i64 = 600_000;

/// How long a request waits for a pooled SQLite connection. A SQLite file cannot be "down"; a
/// wait only means every connection is busy, so this stays as long as SQLite's busy timeout.
const SQLITE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

impl Db {
    /// Connects to `url` (creating a SQLite file if needed) with at most `max_connections`.
    ///
    /// For PostgreSQL the first connection is made directly, bounded by
    /// [`POSTGRES_CONNECT_TIMEOUT`], so a wrong address, password, database or certificate fails
    /// start-up at once with the real reason and the address ([`ConnectError::Postgres`]) instead
    /// of a pool that retries for its whole acquire timeout and then says only that it timed
    /// out. TLS follows the URL's `sslmode` (`prefer` by default; `require`, `verify-ca`,
    /// `verify-full`) and `sslrootcert`, through rustls on aws-lc-rs, the crypto the rest of the
    /// process uses.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, ConnectError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).ok_or(ConnectError::UnknownScheme)?;
        if backend == Backend::Sqlite {
            ensure_sqlite_parent(url);
        }
        if backend == Backend::Postgres {
            // sqlx builds its `verify-ca` certificate verifier from rustls's process-wide
            // provider, which rustls cannot guess while both aws-lc-rs and ring are compiled in
            // (reqwest brings ring) and would panic. The process uses aws-lc-rs (see
            // `startup.rs`); the command line's subcommands connect without going through there.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            check_postgres(url).await?;
        }
        let options = AnyConnectOptions::from_str(url)?;
        let statement_timeout = (backend == Backend::Postgres
            && !url.contains("statement_timeout"))
        .then_some(POSTGRES_STATEMENT_TIMEOUT);
        let pool = pool_options(backend, max_connections.max(2), statement_timeout)
            .connect_with(options.clone())
            .await?;
        let writes = pool_options(
            backend,
            write_connections(backend, max_connections),
            statement_timeout,
        )
        .connect_with(options)
        .await?;
        Ok(Self {
            pool,
            writes,
            backend,
            jobs_queued: Default::default(),
            progress: Default::default(),
            recent_lessons: Default::default(),
        })
    }

    /// Brings the schema up to date.
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        if self.backend == Backend::Postgres {
            // Without the statement timeout (a migration may rewrite a large table), on a
            // connection of its own that is closed afterwards, never returned to the pool.
            let mut conn = self.pool.acquire().await?.detach();
            conn.execute("SET statement_timeout = 0").await?;
            let ran = migrator.run(&mut conn).await;
            let _ = conn.close().await;
            ran?;
        } else {
            // PostgreSQL's migrations wait for one another (sqlx takes an advisory lock); SQLite
            // has no such lock. Two processes starting at once on one file (a second node on the
            // machine, a restart overlapping the old process) can both find a migration missing:
            // the one that loses fails on the schema the other has just committed — nothing is
            // half-applied, each migration being one transaction — and tries again, now finding
            // it applied. A migration that is really broken fails the same way every time.
            let mut tries = 0;
            loop {
                match migrator.run(&self.pool).await {
                    Ok(()) => break,
                    Err(e) if tries < 50 => {
                        tries += 1;
                        tracing::debug!(error = %e, "migrating again (another process may be)");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    /// Each pool's connections: (pool, open, idle) — `reads` serves reads and short writes,
    /// `writes` the write transactions.
    pub fn pool_use(&self) -> [(&'static str, u32, usize); 2] {
        [
            ("reads", self.pool.size(), self.pool.num_idle()),
            ("writes", self.writes.size(), self.writes.num_idle()),
        ]
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The signal of jobs queued through this handle (see `jobs_queued`).
    pub fn jobs_queued(&self) -> &std::sync::Arc<tokio::sync::Notify> {
        &self.jobs_queued
    }

    /// The pool of write transactions, for a single statement that writes where write
    /// transactions run all the time (the job runner settling its jobs): on SQLite it then waits
    /// its turn for the one writer connection, instead of colliding with the transaction that
    /// holds the lock and sleeping in SQLite's busy handler (1, 2, 5, 10 … ms at a time).
    pub fn write_pool(&self) -> &AnyPool {
        &self.writes
    }

    /// Notes that `credential` (row `id`) was used, at most once in [`USE_NOTED_EVERY_MS`]
    /// (a member's player calls every 30 s with the same token): the write runs only
    /// when `used` (its `last_used_at` as just read) is older, so reads do not turn into a write
    /// each — even an `UPDATE` that changes nothing takes SQLite's write lock — and through the
    /// write pool when it does.
    pub(super) async fn note_use(
        &self,
        credential: Credential,
        id: &str,
        used: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        let now = now_ms();
        if used.is_some_and(|u| u >= now - USE_NOTED_EVERY_MS) {
            return Ok(());
        }
        let update = match credential {
            Credential::ApiToken => {
                "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1 \
                 AND (last_used_at IS NULL OR last_used_at < $3)"
            }
            Credential::PlatformKey => {
                "UPDATE platform_keys SET last_used_at = $2 WHERE id = $1 \
                 AND (last_used_at IS NULL OR last_used_at < $3)"
            }
        };
        sqlx::query(update)
            .bind(id)
            .bind(now)
            .bind(now - USE_NOTED_EVERY_MS)
            .execute(&self.writes)
            .await?;
        Ok(())
    }

    /// Starts a transaction that will write.
    pub async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.writes.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.writes.begin().await,
        }
    }

    /// Checks that the database accepts a write, as `node`: a full disk or a read-only server
    /// fails this where a read would still pass.
    pub async fn probe_write(&self, node: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO node_probes (node, probed_at) VALUES ($1, $2) \
             ON CONFLICT (node) DO UPDATE SET probed_at = excluded.probed_at",
        )
        .bind(node)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    pub async fn close(&self) {
        self.writes.close().await;
        self.pool.close().await;
    }
}

/// Opens (and closes) one PostgreSQL connection to `url`, turning a failure into a
/// [`ConnectError::Postgres`] that names the address and says what went wrong.
async fn check_postgres(url: &str) -> Result<(), ConnectError> {
    use sqlx::Connection;
    use sqlx::postgres::{PgConnectOptions, PgConnection};
    let options = PgConnectOptions::from_str(url)?;
    let address = match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    let failed = |reason: String| ConnectError::Postgres {
        address: address.clone(),
        reason,
    };
    match tokio::time::timeout(
        POSTGRES_CONNECT_TIMEOUT,
        PgConnection::connect_with(&options),
    )
    .await
    {
        Ok(Ok(connection)) => {
            // The pool opens its own connections; this one only proved the settings work.
            let _ = connection.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(failed(postgres_reason(&e, &options))),
        Err(_) => Err(failed(format!(
            "no answer within {} s (is the host reachable and the port open?)",
            POSTGRES_CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// Why a PostgreSQL connection failed, with a hint where the usual cause is known.
fn postgres_reason(e: &sqlx::Error, options: &sqlx::postgres::PgConnectOptions) -> String {
    match e {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused (is PostgreSQL running and listening there?)".to_owned()
        }
        // rustls reports a failed handshake (an unknown CA, a wrong name) through the socket.
        sqlx::Error::Io(io) if io.get_ref().is_some_and(|e| e.is::<rustls::Error>()) => {
            tls_reason(&io.to_string())
        }
        sqlx::Error::Io(io) => format!("{io}"),
        sqlx::Error::Database(d) => {
            let hint = match d.code().as_deref() {
                // invalid_password, invalid_authorization_specification
                Some("28P01" | "28000") => format!(
                    " (authentication failed for user \"{}\")",
                    options.get_username()
                ),
                // invalid_catalog_name: the database does not exist
                Some("3D000") => " (create it, or fix the database name in the URL)".to_owned(),
                _ => String::new(),
            };
            format!("{}{hint}", d.message())
        }
        sqlx::Error::Tls(tls) => tls_reason(&tls.to_string()),
        other => other.to_string(),
    }
}

/// A failed TLS set-up in words, with the usual fix.
fn tls_reason(text: &str) -> String {
    let hint = if text.contains("not valid for name") {
        " (the certificate was not issued for the host in the URL; connect by a name or address \
         it names, or use sslmode=verify-ca, which checks the issuer only)"
    } else if text.contains("UnknownIssuer") || text.contains("certificate") {
        " (with sslmode=verify-ca or verify-full, sslrootcert must name the CA that signed the \
         server's certificate)"
    } else if text.contains("does not support TLS") {
        " (the server has ssl = off; turn it on, or use sslmode=prefer or disable)"
    } else {
        ""
    };
    format!("TLS failed: {text}{hint}")
}

/// Creates the folder of a `sqlite://path` URL, so a fresh data directory just works.
fn ensure_sqlite_parent(url: &str) {
    if let Some(path) = sqlite_file(url)
        && let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        let _ = std::fs::create_dir_all(parent);
    }
}

/// The file a `sqlite:` URL names (`None` for an in-memory database or another scheme).
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// The current time in Unix milliseconds, the unit of every time column.
pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

/// A fresh identifier: a UUIDv7, so identifiers sort by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// `(column LIKE $from OR column LIKE $from+1 …)` for `n` subtree paths, each bound as
/// `<path>%` (see [`subtree_patterns`]): rows whose organisation lies in one of the subtrees.
fn within_subtrees(column: &str, from: usize, n: usize) -> String {
    let likes: Vec<String> = (from..from + n)
        .map(|i| format!("{column} LIKE ${i}"))
        .collect();
    format!("({})", likes.join(" OR "))
}

/// The `LIKE` patterns of [`within_subtrees`].
fn subtree_patterns(paths: &[String]) -> impl Iterator<Item = String> + '_ {
    paths.iter().map(|p| format!("{p}%"))
}

/// Placeholders `$from, $from+1, …` for `n` values, for `IN (…)` lists.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
