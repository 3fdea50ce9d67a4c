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
    ];
    let mut timings = Vec::new();
    for (name, mut cmd, hint) in steps {
        println!("==> {name}: {}", run::display(&cmd));
        let started = Instant::now();
        let result = run::status(&mut cmd, hint);
        timings.push((name, started.elapsed(), result.is_ok()));
        if let Err(e) = result {
            print_table(&timings);
            return Err(e);
        }
    }
    print_table(&timings);
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

/// The demo until the desktop app exists: tandem-lk's `join` example.
pub(crate) fn demo(args: &[String]) -> Result<()> {
    run::status(
        cargo()
            .args([
                "run",
                "--release",
                "--package",
                "tandem-lk",
                "--example",
                "join",
                "--",
            ])
            .args(args),
        "see the error above",
    )
}
