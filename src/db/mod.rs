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
pub mod changes;
pub mod jobs;
pub mod lessons;
pub mod orgs;
pub mod platforms;
pub mod texts;
pub mod tokens;
pub mod uploads;
pub mod users;
pub mod workflow;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor, Transaction};
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
    #[error("cannot apply the database migrations")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The database: a pool and the backend it talks to.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Connects to `url` (creating a SQLite file if needed) with at most `max_connections`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, ConnectError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).ok_or(ConnectError::UnknownScheme)?;
        if backend == Backend::Sqlite {
            ensure_sqlite_parent(url);
        }
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(2))
            .acquire_timeout(Duration::from_secs(30))
            // A SQLite connection is a file in this process: checking it with a round trip to
            // its worker thread before every use only adds latency. A PostgreSQL connection can
            // have been dropped by the server, so those are checked.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self { pool, backend })
    }

    /// Brings the schema up to date.
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a transaction that will write.
    pub async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Creates the folder of a `sqlite://path` URL, so a fresh data directory just works.
fn ensure_sqlite_parent(url: &str) {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or("");
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        let _ = std::fs::create_dir_all(parent);
    }
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
