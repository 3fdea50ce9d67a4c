//! Files in chat, the app's side. The page never names a path: files to
//! send come from the system's file picker or from files dropped on the
//! window, both opened here; a received file is saved through the system's
//! save dialog (which asks before replacing a file), under
//! [`session::safe_file_name`] by default. Received files wait in the app's
//! cache folder, emptied at each start, and are never opened.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use tandem_call::session::{self, CallHandle, FileState, FileTransfer};
use tauri::{AppHandle, Manager, State};
use tauri_plugin_dialog::DialogExt as _;

use crate::AppState;
use crate::dto::{CallUpdate, FileLine, FileStatus};
use crate::error::{AppError, sentence};

/// Received files waiting to be saved: id → (where, the sender's name).
#[derive(Debug, Default)]
pub(crate) struct Received(Mutex<HashMap<String, (PathBuf, String)>>);

impl Received {
    /// Remembers a file once it has arrived whole.
    pub(crate) fn track(&self, t: &FileTransfer) {
        if let FileState::Done {
            path: Some(path), ..
        } = &t.state
            && let Ok(mut r) = self.0.lock()
        {
            r.insert(t.id.clone(), (path.clone(), t.name.clone()));
        }
    }

    fn get(&self, id: &str) -> Option<(PathBuf, String)> {
        self.0.lock().ok()?.get(id).cloned()
    }
}

/// Empties the folder received files wait in (files of an earlier run
/// that were never saved).
pub(crate) fn clear_received(dir: &std::path::Path) {
    if let Err(e) = std::fs::remove_dir_all(dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!("could not empty {}: {e}", dir.display());
    }
}

/// What the page shows of a transfer.
pub(crate) fn line(t: FileTransfer) -> FileLine {
    let (status, error, sha256) = match t.state {
        FileState::Moving => (FileStatus::Moving, None, None),
        FileState::Done { sha256, .. } => (FileStatus::Done, None, Some(sha256)),
        FileState::Cancelled { by_us: true } => (FileStatus::Cancelled, None, None),
        FileState::Cancelled { by_us: false } => (FileStatus::CancelledBySender, None, None),
        FileState::Failed(why) => (FileStatus::Failed, Some(why), None),
    };
    FileLine {
        id: t.id,
        identity: t.identity,
        outgoing: t.outgoing,
        name: t.name,
        size: t.size.map(|s| s as f64),
        mime_type: t.mime_type,
        done: t.done as f64,
        status,
        error,
        sha256,
    }
}

/// Sends each of `paths`; the ids of those that went, or every reason
/// why not in one message.
async fn send_paths(call: &CallHandle, paths: Vec<PathBuf>) -> Result<Vec<String>, AppError> {
    let mut ids = Vec::new();
    let mut refused = Vec::new();
    for path in paths {
        match call.send_file(&path).await {
            Ok(id) => ids.push(id),
            Err(e) => refused.push(AppError::from(e).message),
        }
    }
    if refused.is_empty() {
        Ok(ids)
    } else {
        Err(AppError::invalid(refused.join(" ")))
    }
}

/// Asks the person for files to send (the system's picker) and sends
/// them; their ids (none when the picker was closed).
#[tauri::command]
#[specta::specta]
pub(crate) async fn file_send_pick(
    app: AppHandle,
    state: State<'_, AppState>,
) -> Result<Vec<String>, AppError> {
    let call = state.running()?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Send files")
        .pick_files(move |picked| {
            let _ = tx.send(picked);
        });
    let Some(picked) = rx.await.ok().flatten() else {
        return Ok(Vec::new());
    };
    let paths = picked
        .into_iter()
        .filter_map(|p| p.into_path().ok())
        .collect();
    send_paths(&call, paths).await
}

/// Files dropped on the window during a call are sent; what cannot be
/// is said as a warning.
pub(crate) fn dropped(app: &AppHandle, paths: Vec<PathBuf>) {
    let Some(call) = app.state::<AppState>().call() else {
        return;
    };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Err(e) = send_paths(&call, paths).await {
            crate::emit(&app, CallUpdate::Warning { message: e.message });
        }
    });
}

/// Stops sending or receiving a file.
#[tauri::command]
#[specta::specta]
pub(crate) async fn file_cancel(state: State<'_, AppState>, id: String) -> Result<(), AppError> {
    Ok(state.running()?.cancel_file(&id).await?)
}

/// Saves a received file where the person chooses (the system's save
/// dialog, which asks before replacing a file); where it went, or `null`
/// when the dialog was closed.
#[tauri::command]
#[specta::specta]
pub(crate) async fn file_save(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
) -> Result<Option<String>, AppError> {
    let (from, name) = state.received.get(&id).ok_or_else(|| {
        AppError::invalid(
            "That file is not here any more: received files are kept until Tandem closes.",
        )
    })?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut dialog = app
        .dialog()
        .file()
        .set_title("Save file")
        .set_file_name(session::safe_file_name(&name));
    if let Ok(dir) = app.path().download_dir() {
        dialog = dialog.set_directory(dir);
    }
    dialog.save_file(move |chosen| {
        let _ = tx.send(chosen);
    });
    let Some(chosen) = rx.await.ok().flatten().and_then(|p| p.into_path().ok()) else {
        return Ok(None);
    };
    let (Some(folder), Some(file_name)) = (chosen.parent(), chosen.file_name()) else {
        return Err(AppError::invalid("Choose a file name to save it as."));
    };
    let (folder, file_name) = (folder.to_owned(), file_name.to_string_lossy().into_owned());
    // The dialog asked before replacing; the name is made safe again all the same.
    let saved = tokio::task::spawn_blocking(move || {
        session::save_received(&from, &folder, &file_name, true)
    })
    .await
    .map_err(AppError::internal)?
    .map_err(|e| AppError::invalid(format!("{}.", sentence(e.to_string()))))?;
    Ok(Some(saved.display().to_string()))
}
