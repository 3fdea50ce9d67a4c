//! A private, throwaway PostgreSQL server for the backend's tests: its own
//! data folder and port on loopback, stopped and deleted afterwards.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;

/// A running server; dropping it stops the server and removes its folder.
#[derive(Debug)]
pub(crate) struct TestPostgres {
    bin: PathBuf,
    dir: PathBuf,
    as_postgres: bool,
    /// `postgres://postgres@127.0.0.1:<port>/postgres`
    pub(crate) url: String,
}

fn bin_dir() -> Result<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed (Debian package `postgresql`)")?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .context("no PostgreSQL initdb under /usr/lib/postgresql/*/bin")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"))
}

impl TestPostgres {
    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if self.as_postgres {
            // The server refuses to run as root.
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    /// Stops and removes servers left by runs that were interrupted before
    /// they could clean up (their process is gone).
    fn sweep_stale(bin: &std::path::Path, as_postgres: bool) {
        let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix("tandem-test-pg-")
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if std::path::Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            let stale = TestPostgres {
                bin: bin.to_path_buf(),
                dir: e.path(),
                as_postgres,
                url: String::new(),
            };
            println!(
                "stopping a test PostgreSQL left by an interrupted run ({})",
                e.path().display()
            );
            drop(stale);
        }
    }

    /// initdb + pg_ctl start on a free loopback port.
    pub(crate) fn start() -> Result<TestPostgres> {
        let bin = bin_dir()?;
        Self::sweep_stale(&bin, is_root());
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = std::env::temp_dir().join(format!("tandem-test-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let as_postgres = is_root();
        if as_postgres {
            let ok = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&dir)
                .status()?
                .success();
            if !ok {
                bail!("could not give {} to the postgres user", dir.display());
            }
        }
        let pg = TestPostgres {
            bin,
            dir: dir.clone(),
            as_postgres,
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        };
        let data = dir.join("data");
        let out = pg
            .command("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .output()?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            dir.display()
        );
        let out = pg
            .command("pg_ctl")
            .args(["-w", "-t", "30", "-D"])
            .arg(&data)
            .args(["-o", &opts, "-l"])
            .arg(dir.join("server.log"))
            .arg("start")
            .output()?;
        if !out.status.success() {
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            bail!(
                "PostgreSQL did not start: {}\n{log}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        println!(
            "test PostgreSQL running on 127.0.0.1:{port} ({})",
            dir.display()
        );
        Ok(pg)
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-m", "immediate", "-D"])
            .arg(self.dir.join("data"))
            .arg("stop")
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
