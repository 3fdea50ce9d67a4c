//! Running external commands with errors that say which command failed and
//! what to do about it.

use anyhow::{Context, Result, bail};
use std::process::{Command, Stdio};

/// Renders a command the way a person would type it.
pub(crate) fn display(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

/// Runs a command with inherited output; a failure names the command and
/// carries `hint` as the thing to do.
pub(crate) fn status(cmd: &mut Command, hint: &str) -> Result<()> {
    let shown = display(cmd);
    let status = cmd
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("could not start `{shown}`: {hint}"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status}). {hint}");
    }
    Ok(())
}

/// Runs a command and returns its stdout; stderr is shown on failure.
pub(crate) fn output(cmd: &mut Command, hint: &str) -> Result<String> {
    let shown = display(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not start `{shown}`: {hint}"))?;
    if !out.status.success() {
        bail!(
            "`{shown}` failed ({}):\n{}\n{hint}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
