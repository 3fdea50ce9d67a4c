//! `tandem-devserver`: run the development SFU.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tandem_devserver::Server;
use tandem_devserver::config::{self, Config};

/// A LiveKit-compatible SFU for development, CI and LAN test calls.
/// Production deployments use LiveKit Cloud or a self-hosted livekit-server.
#[derive(Debug, Parser)]
#[command(name = "tandem-devserver", version)]
struct Args {
    /// Development defaults: 127.0.0.1:7880, UDP 7882, API key `devkey`, secret `secret`.
    #[arg(long)]
    dev: bool,
    /// Address to listen on (use 0.0.0.0 for a LAN call).
    #[arg(long)]
    bind: Option<IpAddr>,
    /// HTTP/WebSocket port.
    #[arg(long)]
    port: Option<u16>,
    /// UDP port for all media.
    #[arg(long)]
    udp_port: Option<u16>,
    /// Address written into ICE candidates: this machine's LAN address for a LAN call.
    #[arg(long)]
    node_ip: Option<IpAddr>,
    /// API key and secret as key:secret (repeatable). Default with --dev: devkey:secret.
    #[arg(long = "keys", value_parser = config::parse_key_pair)]
    keys: Vec<(String, String)>,
    /// POST webhook events here, signed with the first key.
    #[arg(long)]
    webhook_url: Option<String>,
    /// Seconds an empty room stays open.
    #[arg(long, default_value_t = 300)]
    empty_timeout: u64,
    /// Maximum participants per room (0 = unlimited).
    #[arg(long, default_value_t = 0)]
    max_participants: u32,
}

fn build_config(args: Args) -> Result<Config, String> {
    let mut cfg = Config::dev();
    if !args.dev && args.keys.is_empty() {
        return Err("give --dev (devkey:secret) or at least one --keys key:secret".into());
    }
    if let Some(b) = args.bind {
        cfg.bind = b;
    }
    if let Some(p) = args.port {
        cfg.port = p;
    }
    if let Some(p) = args.udp_port {
        cfg.udp_port = p;
    }
    cfg.node_ip = args.node_ip;
    if !args.keys.is_empty() {
        cfg.keys = args.keys.into_iter().collect::<BTreeMap<_, _>>();
    }
    if let Some(url) = &args.webhook_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(format!("--webhook-url must be an http(s) URL, got {url:?}"));
    }
    cfg.webhook_url = args.webhook_url;
    cfg.empty_timeout = Duration::from_secs(args.empty_timeout);
    cfg.max_participants = args.max_participants;
    if cfg.bind.is_unspecified() && cfg.node_ip.is_none() {
        eprintln!(
            "note: --bind {} without --node-ip: ICE candidates say 127.0.0.1, so only this machine can send media. Add --node-ip <LAN address>.",
            cfg.bind
        );
    }
    Ok(cfg)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,str0m=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cfg = match build_config(Args::parse()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tandem-devserver: {e}");
            return ExitCode::from(2);
        }
    };
    let key_list: Vec<String> = cfg.keys.keys().cloned().collect();
    let dev_secret =
        cfg.keys.get(config::DEV_API_KEY).map(String::as_str) == Some(config::DEV_API_SECRET);
    let interrupt = match interrupted() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("tandem-devserver: cannot watch for Ctrl-C: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = match Server::start(cfg).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tandem-devserver: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("tandem-devserver is running");
    println!("  URL:       {}", server.url());
    println!("  media:     udp {}", server.media_addr());
    if dev_secret {
        println!(
            "  API key:   {}  (secret: {})",
            config::DEV_API_KEY,
            config::DEV_API_SECRET
        );
    } else {
        println!("  API keys:  {}", key_list.join(", "));
    }
    println!("  Ctrl-C stops it.");
    interrupt.await;
    println!("stopping…");
    server.stop().await;
    ExitCode::SUCCESS
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
