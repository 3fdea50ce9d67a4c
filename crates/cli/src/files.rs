//! Files in the terminal: `--send-file` and `/send` send one, a line
//! tells how each transfer goes (every tenth of the way, and how it ended),
//! and files others send are checked (sha256 printed) and, with
//! `--save-files DIR`, saved there under a safe name that never replaces
//! anything; without it they are deleted when the call ends.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tandem_call::session::{self, CallHandle, FileState, FileTransfer, size_words};

/// Where this process keeps files while they arrive.
pub(crate) fn received_dir(save: Option<&Path>) -> PathBuf {
    match save {
        Some(dir) => dir.join(".tandem-arriving"),
        None => std::env::temp_dir().join(format!("tandem-cli-{}", std::process::id())),
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        self.forget_unsaved();
    }
}

/// The transfers of this call, as the terminal shows them.
#[derive(Debug)]
pub(crate) struct Files {
    save: Option<PathBuf>,
    /// Tenths of the way told so far, per transfer.
    told: HashMap<String, u64>,
}

impl Files {
    pub(crate) fn new(save: Option<PathBuf>) -> Self {
        Self {
            save,
            told: HashMap::new(),
        }
    }

    /// Tells `t` (and saves a received file); the bot answers with the
    /// file's sha256 in chat.
    pub(crate) fn on_file(&mut self, t: &FileTransfer, handle: &CallHandle, bot: bool) {
        let name = t.name.escape_debug().to_string();
        let who = t.identity.escape_debug();
        let size = t.size.map_or("size unknown".into(), size_words);
        match &t.state {
            FileState::Moving => {
                let tenth = t.size.filter(|s| *s > 0).map_or(0, |s| t.done * 10 / s);
                match self.told.insert(t.id.clone(), tenth) {
                    None if t.outgoing => {
                        say!("file {}: sending {name} ({size}, {})", t.id, t.mime_type)
                    }
                    None => say!(
                        "file {}: {who} sends {name} ({size}, declared {})",
                        t.id,
                        t.mime_type.escape_debug()
                    ),
                    Some(before) if tenth > before => {
                        say!("file {}: {name} {}%", t.id, tenth * 10)
                    }
                    _ => {}
                }
            }
            FileState::Done { sha256, path } => {
                self.told.remove(&t.id);
                let Some(path) = path else {
                    say!("file {}: sent {name} ({size}) sha256={sha256}", t.id);
                    return;
                };
                let kept = self.keep(path, &t.name);
                say!(
                    "file {}: received {name} from {who} ({size}, {}) sha256={sha256} {kept}",
                    t.id,
                    t.mime_type
                );
                if bot {
                    let _ = handle.send_chat(&format!("sha256 {}: {sha256}", t.name));
                }
            }
            FileState::Cancelled { by_us } => {
                self.told.remove(&t.id);
                let by = if *by_us { "by us" } else { "by the sender" };
                say!("file {}: {name} cancelled {by}", t.id);
            }
            FileState::Failed(why) => {
                self.told.remove(&t.id);
                say!("file {}: {name} from {who}: {why}", t.id);
            }
        }
    }

    /// Deletes what arrived when there is nowhere to keep it.
    fn forget_unsaved(&self) {
        if self.save.is_none() {
            let _ = std::fs::remove_dir_all(received_dir(None));
        }
    }

    /// Saves a received file where `--save-files` says; in words, where it is.
    fn keep(&self, path: &Path, name: &str) -> String {
        let Some(dir) = &self.save else {
            return format!(
                "(kept until the call ends in {}; --save-files DIR keeps it)",
                path.display()
            );
        };
        let saved = session::save_received(path, dir, &session::free_name(dir, name), false);
        let _ = std::fs::remove_file(path);
        match saved {
            Ok(p) => format!("saved to {}", p.display()),
            Err(e) => format!("not saved: {e}"),
        }
    }
}

/// Sends the `--send-file` files still waiting (once the call can take them).
pub(crate) async fn send_waiting(handle: &CallHandle, paths: &mut Vec<PathBuf>) {
    for path in paths.drain(..) {
        if let Err(e) = handle.send_file(&path).await {
            say!("--send-file: {e}");
        }
    }
}
