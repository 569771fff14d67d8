//! The `lectern` command: a thin shell over the library.

use clap::{Parser, Subcommand};
use lectern::config::Config;
use lectern::startup::{Application, connect_db};

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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    lectern::telemetry::init();
    let cli = Cli::parse();
    let config = Config::load()?;
    match cli.command {
        Command::Serve => {
            tracing::info!(?config, "starting");
            Application::build(config).await?.run_until_stopped().await
        }
        Command::Migrate => {
            connect_db(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Token { command } => token(config, command).await,
    }
}

async fn token(config: Config, command: TokenCommand) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)?;
    let db = connect_db(&config).await?;
    match command {
        TokenCommand::Create { name } => {
            let name = name.trim();
            anyhow::ensure!(
                !name.is_empty() && name.chars().count() <= 100,
                "--name must be 1–100 characters"
            );
            let token = lectern::domain::token::generate();
            let record = db
                .create_token(name, &lectern::domain::token::hash(&token))
                .await?;
            println!("created token {} ({})", record.id, record.name);
            println!("{token}");
        }
        TokenCommand::List => {
            for t in db.tokens().await? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!("{}\t{}\t{}", t.id, state, t.name);
            }
        }
        TokenCommand::Revoke { id } => {
            anyhow::ensure!(db.revoke_token(&id).await?, "no active token {id}");
            println!("revoked {id}");
        }
    }
    Ok(())
}
