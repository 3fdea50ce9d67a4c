//! The gates CI enforces, in the order a developer would run them.

use crate::run;
use anyhow::Result;
use std::process::Command;
use std::time::Instant;

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Format check, clippy with warnings denied, then every test. Prints a
/// timing table at the end.
pub(crate) fn run_all() -> Result<()> {
    let ui = |args: &[&str]| {
        let mut c = Command::new(crate::npm());
        c.args(["run", "--silent"])
            .args(args)
            .current_dir(crate::workspace_root().join("ui"));
        c
    };
    let steps: Vec<(&str, Command, &str)> = vec![
        (
            "fmt",
            {
                let mut c = cargo();
                c.args(["fmt", "--all", "--", "--check"]);
                c
            },
            "run `cargo fmt --all` and commit the result",
        ),
        ("ui build", ui(&["build"]), "fix the UI build errors above"),
        (
            "ui lint",
            ui(&["lint"]),
            "fix the lint errors above (`npm run lint` in ui/)",
        ),
        (
            "ui types",
            ui(&["check"]),
            "fix the type errors above (`npm run check` in ui/)",
        ),
        (
            "clippy",
            {
                let mut c = cargo();
                c.args([
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ]);
                c
            },
            "fix the lints above",
        ),
        (
            "test",
            {
                let mut c = cargo();
                c.args(["test", "--workspace", "--no-fail-fast"]);
                c
            },
            "see the failing tests above",
        ),
        (
            "bundle",
            bundle_command()?,
            "see the bundler's message above",
        ),
        (
            "installed app",
            {
                let mut c = cargo();
                c.args([
                    "test",
                    "-p",
                    "tandem",
                    "--test",
                    "installed",
                    "--",
                    "--ignored",
                ]);
                c
            },
            "see the failing installed-app test above; screenshots are in target/app-e2e",
        ),
        (
            "ui unit",
            ui(&["test"]),
            "see the failing UI unit tests above",
        ),
        (
            "ui browser",
            ui(&["e2e"]),
            "see the failing browser tests above; screenshots are in ui/e2e/screens",
        ),
        (
            // Ten clients keep both cores busy, so the soak runs alone,
            // last: three minutes here (memory is flat from the first
            // minute, docs/reliability.md); the ten-minute run is the
            // benchmark (`cargo test -p tandem-devserver --test soak --
            // --ignored --nocapture`).
            "soak",
            {
                let mut c = cargo();
                c.env("TANDEM_SOAK_SECS", "180");
                c.args([
                    "test",
                    "-p",
                    "tandem-devserver",
                    "--test",
                    "soak",
                    "--",
                    "--ignored",
                    "--nocapture",
                ]);
                c
            },
            "see the soak's figures and failure above (docs/reliability.md, \"Dev-server soak\")",
        ),
    ];
    let mut timings = Vec::new();
    let mut totals = TestTotals::default();
    for (name, mut cmd, hint) in steps {
        println!("==> {name}: {}", run::display(&cmd));
        let started = Instant::now();
        let result = if name == "installed app" && !is_root() {
            println!("skipped: installing the package needs root (CI runs as root)");
            Ok(())
        } else if name == "test" {
            // The backend's suite runs on SQLite and on this real PostgreSQL.
            let pg = crate::pg::TestPostgres::start()?;
            cmd.env("TANDEM_TEST_POSTGRES", &pg.url);
            let r = run_tests(&mut cmd, hint, &mut totals);
            drop(pg);
            r
        } else {
            run::status(&mut cmd, hint)
        };
        timings.push((name, started.elapsed(), result.is_ok()));
        if let Err(e) = result {
            print_table(&timings);
            totals.print();
            return Err(e);
        }
    }
    print_table(&timings);
    totals.print();
    Ok(())
}

/// `cargo xtask bundle` as the release workflow runs it, signed with a key
/// made for this run only, so the updater artifacts are built and checked
/// too. The app's update feed points at loopback.
fn bundle_command() -> Result<Command> {
    let dir = crate::workspace_root().join("target/ci-signing");
    std::fs::create_dir_all(&dir)?;
    let key = dir.join("updater.key");
    let _ = std::fs::remove_file(&key);
    let _ = std::fs::remove_file(dir.join("updater.key.pub"));
    let cli = crate::tools_dir()?.join("bin/cargo-tauri");
    run::output(
        Command::new(&cli)
            .args([
                "tauri",
                "signer",
                "generate",
                "--ci",
                "--password",
                "",
                "--write-keys",
            ])
            .arg(&key),
        "the Tauri CLI makes the run's signing key (`cargo xtask setup` installs it)",
    )?;
    let public = std::fs::read_to_string(dir.join("updater.key.pub"))?;
    let overlay = dir.join("tauri.ci.json");
    std::fs::write(
        &overlay,
        serde_json::to_string_pretty(&serde_json::json!({
            "bundle": { "createUpdaterArtifacts": true },
            "plugins": { "updater": {
                "pubkey": public.trim(),
                "endpoints": ["https://127.0.0.1:9/latest.json"],
            }},
        }))?,
    )?;
    let mut c = cargo();
    c.args(["xtask", "bundle", "--no-apt", "--config"])
        .arg(&overlay)
        .env(
            "TAURI_SIGNING_PRIVATE_KEY",
            std::fs::read_to_string(&key)?.trim(),
        )
        .env("TAURI_SIGNING_PRIVATE_KEY_PASSWORD", "");
    Ok(c)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Tests counted over every test binary of the run.
#[derive(Debug, Default)]
struct TestTotals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl TestTotals {
    /// Adds the counts of one libtest summary line
    /// (`test result: ok. 3 passed; 0 failed; 1 ignored; …`).
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split([';', '.']) {
            let mut words = part.split_whitespace();
            if let (Some(n), Some(what)) = (words.next(), words.next()) {
                let Ok(n) = n.parse::<u64>() else { continue };
                match what {
                    "passed" => self.passed += n,
                    "failed" => self.failed += n,
                    "ignored" => self.ignored += n,
                    _ => {}
                }
            }
        }
    }

    /// The closing line: the totals of the whole run.
    fn print(&self) {
        println!(
            "\n{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.ignored
        );
    }
}

/// Runs the tests, echoing their output and adding up every binary's counts.
fn run_tests(cmd: &mut Command, hint: &str, totals: &mut TestTotals) -> Result<()> {
    use std::io::BufRead;
    let shown = run::display(cmd);
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| anyhow::anyhow!("could not start `{shown}`: {e}"))?;
    if let Some(out) = child.stdout.take() {
        for line in std::io::BufReader::new(out).lines() {
            let line = line?;
            println!("{line}");
            totals.add_line(&line);
        }
    }
    let status = child.wait()?;
    if !status.success() {
        anyhow::bail!("`{shown}` failed ({status}). {hint}");
    }
    if totals.passed == 0 {
        anyhow::bail!(
            "`{shown}` ran no test: check that the test targets still build and are not filtered out"
        );
    }
    Ok(())
}

fn print_table(timings: &[(&str, std::time::Duration, bool)]) {
    println!("\n| step | result | seconds |\n|---|---|---|");
    for (name, took, ok) in timings {
        println!(
            "| {name} | {} | {:.1} |",
            if *ok { "ok" } else { "FAILED" },
            took.as_secs_f64()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_up_libtest_summaries() {
        let mut t = TestTotals::default();
        t.add_line("test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s");
        t.add_line(
            "test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out",
        );
        t.add_line("running 5 tests");
        assert_eq!((t.passed, t.failed, t.ignored), (5, 1, 1));
    }
}
