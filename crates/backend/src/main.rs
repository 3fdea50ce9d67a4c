//! `tandem-backend`: the reference token and session backend.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tandem_backend::{Config, dev};

/// Serves LiveKit tokens and sessions in the API shapes of five coaching platforms.
#[derive(Debug, Parser)]
#[command(name = "tandem-backend", version)]
struct Args {
    /// TOML configuration file (environment variables override it).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:3000).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Development mode: a SQLite database with a demo coach, client and
    /// session, dev keys for a local tandem-devserver, and their logins printed.
    #[arg(long)]
    dev: bool,
    /// Seed 004 as the real platform is: no LiveKit token endpoint, its
    /// calls peer to peer through the Socket.IO room server here.
    #[arg(long)]
    p2p_only: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tandem-backend: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let mut cfg = Config::load(args.config.as_deref())?;
    if let Some(l) = args.listen {
        cfg.listen = l;
    }
    if args.p2p_only {
        cfg.seed_004_livekit = false;
    }
    if args.dev {
        cfg.dev = true;
        if std::env::var_os("DATABASE_URL").is_none() && args.config.is_none() {
            cfg.database_url = "sqlite://tandem-dev.db".into();
        }
        if cfg.jwt_secret.is_empty() {
            cfg.jwt_secret = "tandem-dev-jwt-secret-not-for-production".into();
        }
        if cfg.livekit_api_key.is_empty() {
            cfg.livekit_api_key = "devkey".into();
            cfg.livekit_api_secret = "secret".into();
        }
        if cfg.cors_origins.is_empty() {
            cfg.cors_origins = vec!["*".into()];
        }
    }
    let interrupt = interrupted()?;
    let running = tandem_backend::start(cfg).await?;
    println!("tandem-backend is running at {}", running.url());
    if args.dev {
        let demo = dev::seed(&running.state.db)
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
        println!(
            "  LiveKit:  {} (start it with `tandem-devserver --dev`)",
            running.state.cfg.livekit_url
        );
        println!("  coach:    {} / {}", demo.coach_email, demo.password);
        println!("  client:   {} / {}", demo.client_email, demo.password);
        println!("  session:  {}", demo.session_id);
        let backend = running.url();
        println!(
            "  join as the coach:  tandem://join?backend={backend}&profile=004&link={}",
            demo.coach_link
        );
        println!(
            "  join as the client: tandem://join?backend={backend}&profile=004&link={}",
            demo.client_link
        );
    }
    println!("  Ctrl-C stops it.");
    interrupt.await;
    running.stop().await;
    Ok(())
}

/// Ctrl-C, with the handler installed when this is called (not when first
/// awaited), so a Ctrl-C right after the "Ctrl-C stops it" line is not lost.
fn interrupted() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        let mut sig = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        Ok(async move {
            sig.recv().await;
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
