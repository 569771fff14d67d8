//! The `lectern` command: a thin shell over the library.

use clap::{Parser, Subcommand};
use lectern::cli;
use lectern::config::Config;
use lectern::startup::{Application, connect_db};

/// mimalloc: searches allocate and free many short-lived buffers (postings blocks, scorers,
/// collectors) from several threads; glibc's allocator spent a tenth of a broad query there.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "lectern",
    version,
    about = "Educational media library: ingest, catalogue, publish"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (with the embedded S3 endpoint unless one is configured).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage operator API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// On a fresh install: create the root organisation and its first administrator. The
    /// password comes from LECTERN_PASSWORD, or is generated and printed.
    Bootstrap {
        #[arg(long)]
        org_name: String,
        #[arg(long, default_value = "province")]
        level: String,
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        admin_login: String,
        #[arg(long)]
        admin_name: String,
    },
    /// Manage organisations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Manage accounts and their roles.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Rebuild the search index from SQL beside the one in use, then switch to it: a running
    /// service keeps answering from the old index until the new one has caught up.
    Reindex,
    /// Back the instance up into a new folder while it runs: a consistent copy of the catalogue
    /// (SQLite's VACUUM INTO, or pg_dump), then every object with a manifest of SHA-256s.
    Backup {
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Restore a backup onto an empty database and store (the service stopped), checking every
    /// object against the manifest, then rebuild the search index.
    Restore {
        #[arg(long)]
        from: std::path::PathBuf,
    },
    /// Check that every catalogued object exists with its SHA-256 and list the orphans (objects
    /// nothing refers to). Exits 1 when an object is missing or damaged.
    Verify {
        /// Check presence only, without reading every byte.
        #[arg(long)]
        quick: bool,
    },
    /// Import lessons with their files from a folder or a CSV/JSON manifest; resumable (files
    /// already imported are skipped by their SHA-256). See `services::import` for the columns.
    Import {
        /// A folder, or a manifest ending in .csv or .json.
        source: std::path::PathBuf,
        /// The organisation of entries that name none.
        #[arg(long)]
        org: Option<String>,
        /// Publish each lesson once its file is stored.
        #[arg(long)]
        publish: bool,
        /// Check every entry and report; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also write the outcome of every entry to this CSV file.
        #[arg(long)]
        report: Option<std::path::PathBuf>,
    },
    /// Delete orphan objects last written longer ago than the grace period.
    Gc {
        /// Hours an orphan is kept (an upload in flight writes its object before the
        /// catalogue names it).
        #[arg(long, default_value_t = 24)]
        grace_hours: u64,
        /// List what would be deleted, delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Manage downstream platforms and their keys.
    Platform {
        #[command(subcommand)]
        command: PlatformCommand,
    },
    /// Maintain the change log.
    Changes {
        #[command(subcommand)]
        command: ChangesCommand,
    },
    /// See and retry background jobs (webhook deliveries, text extraction, schedules, …).
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// The speech engine for machine transcripts (Whisper, run offline on CPU).
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Media processing: make a lesson's media (or every lesson's) again.
    Media {
        #[command(subcommand)]
        command: MediaCommand,
    },
    /// Internal: extract the text of the file on standard input, as JSON on standard output.
    /// The service runs it as a child process with a memory limit (`search::isolate`).
    #[command(hide = true)]
    ExtractText { format: String },
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Install faster-whisper (pinned, in a Python virtual environment) and the Whisper base
    /// model (SHA-256 verified) into the models folder (`<data dir>/models`, or
    /// LECTERN_TRANSCRIBE_MODEL_DIR). Idempotent: a second run checks and changes nothing.
    Install {
        /// The Python 3.9+ the virtual environment is made with.
        #[arg(long, default_value = "python3")]
        python: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum PlatformCommand {
    /// List platforms with their last pull and lag.
    List,
    /// Register a platform under an organisation; its first key is printed once, as the last
    /// line (after the webhook secret, when a webhook URL is given).
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
        /// web, tv, wechat, audio or other.
        #[arg(long, default_value = "web")]
        channel: String,
        /// Only these kinds (video, audio, document); repeatable.
        #[arg(long = "kind")]
        kinds: Vec<String>,
        /// Only lessons with one of these tags; repeatable.
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Only lessons of these series; repeatable.
        #[arg(long = "series")]
        series: Vec<String>,
        #[arg(long)]
        webhook_url: Option<String>,
    },
    /// Add a key to a platform (rotation: add the new one, switch, revoke the old); printed once.
    KeyCreate {
        platform: String,
        #[arg(long, default_value = "key")]
        name: String,
    },
    /// Revoke a platform's key; it is refused from the next request on.
    KeyRevoke { platform: String, key: String },
    /// Disable a platform: its keys stop working and nothing more is delivered.
    Disable { platform: String },
}

#[derive(Subcommand)]
enum MediaCommand {
    /// Forget a lesson's renditions (or only one kind) and queue their steps again, attempts
    /// reset; `--all` for every lesson (after a change of recipes). Steps that are running are
    /// left alone and reported.
    Reprocess {
        /// The lesson.
        lesson: Option<String>,
        /// Every lesson instead of one.
        #[arg(long, conflicts_with = "lesson")]
        all: bool,
        /// One rendition kind (audio_64k, poster_small, poster_large, sprite, page_1 …).
        #[arg(long)]
        only: Option<String>,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// List jobs, most recently changed first: id, kind, state, attempts, last error.
    List {
        /// pending, running, done or dead.
        #[arg(long)]
        state: Option<String>,
        /// A job kind (webhook, extract_text, media_probe, …; a wrong one lists them all).
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Run a dead (or done) job again now — the one named, or every one of `--state` (dead
    /// by default) and `--kind` — with its attempts reset.
    Retry {
        id: Option<String>,
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        kind: Option<String>,
    },
}

#[derive(Subcommand)]
enum ChangesCommand {
    /// Delete change-log entries older than a number of days (keeping the newest `--keep`
    /// entries in any case). Platforms with older cursors are told to start from the snapshot.
    Prune {
        #[arg(long, default_value_t = 90)]
        older_than_days: u64,
        #[arg(long, default_value_t = 0)]
        keep: i64,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// List every organisation as a tree.
    List,
    /// Create an organisation under a parent.
    Create {
        #[arg(long)]
        parent: String,
        #[arg(long)]
        name: String,
        /// province, city, county, township, branch or other.
        #[arg(long)]
        level: String,
        #[arg(long)]
        region: Option<String>,
        /// Whether a reviewer of this organisation must approve what passes through its level.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        review_required: bool,
        /// Whether a reviewer may approve a revision they submitted themselves.
        #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
        self_approval: bool,
        /// The share of a lesson (percent, 50–100) a member must have played for a lesson of
        /// this organisation to count as learned (default 90).
        #[arg(long, value_name = "N")]
        completion_percent: Option<i64>,
    },
    /// Move an organisation, with its subtree, under another parent.
    Move {
        id: String,
        #[arg(long)]
        parent: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// List accounts with their roles.
    List,
    /// Create an account; the password comes from LECTERN_PASSWORD, or is generated and printed.
    Create {
        #[arg(long)]
        login: String,
        #[arg(long)]
        name: String,
        /// A role on an organisation's subtree, as role@organisation-id; repeatable.
        #[arg(long = "grant", required = true)]
        grants: Vec<String>,
    },
    /// Add a role (role@organisation-id).
    Grant { login: String, grant: String },
    /// Remove a role (role@organisation-id).
    Revoke { login: String, grant: String },
    /// Set a password from LECTERN_PASSWORD (or a generated one, printed); ends all sessions.
    Password { login: String },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once, as the last line, and stored only as a hash.
    Create {
        #[arg(long)]
        name: String,
    },
    /// List tokens (never their values).
    List,
    /// Revoke a token by id.
    Revoke { id: String },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The extraction child starts no runtime, reads no configuration and logs nothing: it is
    // small, and the less it does before parsing hostile bytes the better.
    if let Command::ExtractText { format } = &cli.command {
        std::process::exit(lectern::search::isolate::run_child(format));
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    lectern::telemetry::init();
    let config = Config::load()?;
    match cli.command {
        Command::Serve => {
            tracing::info!(?config, "starting");
            let app = Application::build(config).await?;
            // One line on standard output once the port is open, so a supervisor (or a test)
            // that asked for port 0 learns which one it got.
            println!("lectern listening on http://{}", app.addr());
            app.run_until_stopped().await
        }
        Command::Migrate => {
            connect_db(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Token { command } => token(config, command).await,
        Command::Bootstrap {
            org_name,
            level,
            region,
            admin_login,
            admin_name,
        } => {
            let db = open(&config).await?;
            let (pass, generated) = cli::password_from_env()?;
            let (root, _) = cli::bootstrap(
                &db,
                &org_name,
                &level,
                region.as_deref(),
                &admin_login,
                &admin_name,
                &pass,
            )
            .await?;
            println!("created root organisation {} ({})", root.id, root.name);
            println!("administrator {admin_login} can sign in at /login");
            if generated {
                println!("password: {pass}");
            }
            Ok(())
        }
        Command::Org { command } => org(config, command).await,
        Command::User { command } => user(config, command).await,
        Command::Reindex => reindex(config).await,
        Command::Backup { to } => {
            let db = open(&config).await?;
            let (store, _embedded) = open_store(&config).await?;
            cli::backup(&db, &store, &config.database_url(), &to).await
        }
        Command::Restore { from } => {
            let (store, _embedded) = open_store(&config).await?;
            let url = config.database_url();
            cli::restore(&url, &store, &from).await?;
            // Opening applies the migrations a newer version has; then the index is rebuilt.
            let db = open(&config).await?;
            let status = cli::reindex(&db, &config.index_dir).await?;
            println!(
                "search index rebuilt: {} lessons, change-log position {}",
                status.lessons, status.position
            );
            Ok(())
        }
        Command::Verify { quick } => {
            let db = open(&config).await?;
            let (store, _embedded) = open_store(&config).await?;
            if !cli::verify(&db, &store, quick).await? {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Import {
            source,
            org,
            publish,
            dry_run,
            report,
        } => {
            let db = open(&config).await?;
            let (store, _embedded) = open_store(&config).await?;
            let ingest = lectern::ingest::Ingest {
                db,
                store,
                max_bytes: config.max_upload_bytes,
                upload_expiry_ms: (config.upload_expiry_secs as i64).saturating_mul(1000),
                lease_ms: (config.upload_lease_secs as i64).saturating_mul(1000),
            };
            let options = lectern::services::import::Options {
                org_id: org,
                publish,
                dry_run,
            };
            if !cli::import(&ingest, &source, &options, report.as_deref()).await? {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Gc {
            grace_hours,
            dry_run,
        } => {
            let db = open(&config).await?;
            let (store, _embedded) = open_store(&config).await?;
            cli::gc(&db, &store, grace_hours, dry_run).await
        }
        Command::Platform { command } => platform(config, command).await,
        Command::Changes { command } => changes(config, command).await,
        Command::Jobs { command } => jobs(config, command).await,
        Command::Models {
            command: ModelsCommand::Install { python },
        } => {
            let dir = config.models_dir();
            lectern::media::models::install(&dir, &python, &|line: &str| println!("{line}"))
                .await?;
            Ok(())
        }
        Command::Media { command } => media(config, command).await,
        Command::ExtractText { .. } => unreachable!("handled before the runtime starts"),
    }
}

async fn platform(config: Config, command: PlatformCommand) -> anyhow::Result<()> {
    let db = open(&config).await?;
    match command {
        PlatformCommand::List => {
            for line in cli::list_platforms(&db).await? {
                println!("{line}");
            }
        }
        PlatformCommand::Create {
            org,
            name,
            channel,
            kinds,
            tags,
            series,
            webhook_url,
        } => {
            let (p, key, secret) = cli::create_platform(
                &db,
                &org,
                &name,
                &channel,
                (&kinds, &tags, &series),
                webhook_url.as_deref(),
            )
            .await?;
            println!("created platform {} ({})", p.id, p.name);
            if let Some(s) = secret {
                println!("webhook secret: {s}");
            }
            println!("{key}");
        }
        PlatformCommand::KeyCreate { platform, name } => {
            let key = cli::create_platform_key(&db, &platform, &name).await?;
            println!("{key}");
        }
        PlatformCommand::KeyRevoke { platform, key } => {
            cli::revoke_platform_key(&db, &platform, &key).await?;
            println!("revoked");
        }
        PlatformCommand::Disable { platform } => {
            cli::disable_platform(&db, &platform).await?;
            println!("disabled");
        }
    }
    Ok(())
}

async fn jobs(config: Config, command: JobsCommand) -> anyhow::Result<()> {
    let db = open(&config).await?;
    match command {
        JobsCommand::List { state, kind, limit } => {
            for j in cli::list_jobs(&db, state.as_deref(), kind.as_deref(), limit).await? {
                let progress = match j.state {
                    lectern::domain::job::JobState::Running => {
                        cli::progress_text(j.progress_permille, j.eta_ms).unwrap_or_default()
                    }
                    _ => String::new(),
                };
                println!(
                    "{}\t{}\t{}\t{}/{}\t{}\t{}",
                    j.id,
                    j.kind.as_str(),
                    j.state.as_str(),
                    j.attempts,
                    j.max_attempts,
                    progress,
                    j.last_error.as_deref().unwrap_or("")
                );
            }
        }
        JobsCommand::Retry { id, state, kind } => {
            let n = cli::retry_jobs(&db, id.as_deref(), state.as_deref(), kind.as_deref()).await?;
            println!("{n} job(s) queued again");
        }
    }
    Ok(())
}

async fn media(config: Config, command: MediaCommand) -> anyhow::Result<()> {
    let db = open(&config).await?;
    match command {
        MediaCommand::Reprocess { lesson, all, only } => {
            let done = cli::reprocess_media(&db, lesson.as_deref(), all, only.as_deref()).await?;
            println!(
                "{} content(s) queued again, {} left alone (a step is running)",
                done.queued.len(),
                done.skipped.len()
            );
        }
    }
    Ok(())
}

async fn changes(config: Config, command: ChangesCommand) -> anyhow::Result<()> {
    let db = open(&config).await?;
    match command {
        ChangesCommand::Prune {
            older_than_days,
            keep,
        } => {
            let (n, through) = cli::prune_changes(&db, older_than_days, keep).await?;
            println!("pruned {n} entries; cursors at or after position {through} stay valid");
        }
    }
    Ok(())
}

async fn reindex(config: Config) -> anyhow::Result<()> {
    let db = open(&config).await?;
    let started = std::time::Instant::now();
    let s = cli::reindex(&db, &config.index_dir).await?;
    println!(
        "rebuilt the search index in {:.1} s: generation {}, change-log position {}, {} lessons, {} pages and cues, {} MiB",
        started.elapsed().as_secs_f64(),
        s.generation,
        s.position,
        s.lessons,
        s.segments,
        s.bytes >> 20
    );
    Ok(())
}

async fn open(config: &Config) -> anyhow::Result<lectern::db::Db> {
    std::fs::create_dir_all(&config.data_dir)?;
    connect_db(config).await
}

/// The object store for a command. On the embedded endpoint, the command serves the same
/// folder on a port of its own (the running service keeps its port).
async fn open_store(
    config: &Config,
) -> anyhow::Result<(
    lectern::storage::ObjectStore,
    Option<lectern::storage::embedded::EmbeddedS3>,
)> {
    std::fs::create_dir_all(&config.data_dir)?;
    let mut config = config.clone();
    config.s3_embedded_bind = "127.0.0.1:0".into();
    lectern::startup::connect_store(&config).await
}

async fn org(config: Config, command: OrgCommand) -> anyhow::Result<()> {
    let db = open(&config).await?;
    match command {
        OrgCommand::List => {
            for o in db.orgs_within(None).await? {
                let depth = lectern::domain::org::ids(&o.path).len().saturating_sub(1);
                println!(
                    "{}{}\t{}\t{}",
                    "  ".repeat(depth),
                    o.name,
                    o.level.as_str(),
                    o.id
                );
            }
        }
        OrgCommand::Create {
            parent,
            name,
            level,
            region,
            review_required,
            self_approval,
            completion_percent,
        } => {
            let new = lectern::services::orgs::NewOrg {
                parent_id: parent,
                name,
                level,
                region_code: region,
                review_required,
                self_approval,
                completion_percent,
            };
            let o = cli::create_org(&db, new).await?;
            println!("created organisation {} ({})", o.id, o.name);
        }
        OrgCommand::Move { id, parent } => {
            let o = cli::move_org(&db, &id, &parent).await?;
            println!("moved {} under {}", o.name, parent);
        }
    }
    Ok(())
}

async fn user(config: Config, command: UserCommand) -> anyhow::Result<()> {
    let db = open(&config).await?;
    match command {
        UserCommand::List => {
            for u in db.users_within(None).await? {
                let grants: Vec<String> = db
                    .grants_of(&u.id)
                    .await?
                    .into_iter()
                    .map(|g| format!("{}@{}", g.role.as_str(), g.org_name))
                    .collect();
                let state = if u.disabled_at.is_some() {
                    "disabled"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}\t{}",
                    u.login,
                    u.display_name,
                    state,
                    grants.join(",")
                );
            }
        }
        UserCommand::Create {
            login,
            name,
            grants,
        } => {
            let grants = grants
                .iter()
                .map(|g| cli::parse_grant(g))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let (pass, generated) = cli::password_from_env()?;
            let id = cli::create_user(&db, &login, &name, &pass, &grants).await?;
            println!("created user {login} ({id})");
            if generated {
                println!("password: {pass}");
            }
        }
        UserCommand::Grant { login, grant } => {
            let changed = cli::change_grant(&db, &login, cli::parse_grant(&grant)?, true).await?;
            println!("{}", if changed { "granted" } else { "already held" });
        }
        UserCommand::Revoke { login, grant } => {
            let changed = cli::change_grant(&db, &login, cli::parse_grant(&grant)?, false).await?;
            println!("{}", if changed { "revoked" } else { "not held" });
        }
        UserCommand::Password { login } => {
            let (pass, generated) = cli::password_from_env()?;
            cli::set_password(&db, &login, &pass).await?;
            println!("password changed; every session of {login} has ended");
            if generated {
                println!("password: {pass}");
            }
        }
    }
    Ok(())
}

async fn token(config: Config, command: TokenCommand) -> anyhow::Result<()> {
    let db = open(&config).await?;
    match command {
        TokenCommand::Create { name } => {
            let (record, token) = cli::create_token(&db, &name).await?;
            println!("created token {} ({})", record.id, record.name);
            println!("{token}");
        }
        TokenCommand::List => {
            for t in cli::list_tokens(&db).await? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!("{}\t{}\t{}", t.id, state, t.name);
            }
        }
        TokenCommand::Revoke { id } => {
            cli::revoke_token(&db, &id).await?;
            println!("revoked {id}");
        }
    }
    Ok(())
}
