//! Commands of the prejoin screen: devices, the preview, the meter, the
//! speaker test.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tandem_call::media::audio::{self, MicChoice, SpeakerChoice};
use tandem_call::media::camera::{self, CameraChoice, CaptureFormat, PatternColour};
use tauri::{AppHandle, State};

use crate::AppState;
use crate::dto::{DeviceEntry, DeviceList, MicLevel, PreviewState, TEST_PATTERN};
use crate::error::{AppError, ErrorCode};

/// The cameras, microphones and speakers (the test pattern is always
/// offered, last, for machines without a camera).
#[tauri::command]
#[specta::specta]
pub(crate) async fn devices_list() -> Result<DeviceList, AppError> {
    tokio::task::spawn_blocking(|| {
        let mut cameras: Vec<DeviceEntry> = camera::list_cameras()
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, c)| DeviceEntry {
                id: c.id,
                name: c.name,
                is_default: i == 0,
            })
            .collect();
        let no_camera = cameras.is_empty();
        cameras.push(DeviceEntry {
            id: TEST_PATTERN.into(),
            name: "Test pattern".into(),
            is_default: no_camera,
        });
        let audio = audio::devices();
        let entry = |d: audio::AudioDevice| DeviceEntry {
            id: d.id,
            name: d.name,
            is_default: d.is_default,
        };
        DeviceList {
            cameras,
            microphones: audio.inputs.into_iter().map(entry).collect(),
            speakers: audio.outputs.into_iter().map(entry).collect(),
        }
    })
    .await
    .map_err(AppError::internal)
}

pub(crate) fn camera_choice(id: Option<&str>) -> CameraChoice {
    match id {
        None | Some("") => CameraChoice::Default,
        // Orange: the bot and tests send teal, so each side is told apart.
        Some(TEST_PATTERN) => CameraChoice::TestPattern(PatternColour::ORANGE),
        Some(id) => CameraChoice::Id(id.to_owned()),
    }
}

pub(crate) fn mic_choice(id: Option<&str>) -> MicChoice {
    match id {
        None | Some("") => MicChoice::Default,
        Some(id) => MicChoice::Id(id.to_owned()),
    }
}

pub(crate) fn speaker_choice(id: Option<&str>) -> SpeakerChoice {
    match id {
        None | Some("") => SpeakerChoice::Default,
        Some(id) => SpeakerChoice::Id(id.to_owned()),
    }
}

/// Preview size: enough for the prejoin tile, and cheap.
const PREVIEW: CaptureFormat = CaptureFormat {
    width: 1280,
    height: 720,
    fps: 30,
};

/// Opens (or closes, with `None`/`on = false`) the preview camera and
/// microphone. Errors are reported in the state, not thrown: the screen
/// stays usable with whatever opened.
#[tauri::command]
#[specta::specta]
pub(crate) async fn preview_set(
    app: AppHandle,
    state: State<'_, AppState>,
    camera: Option<String>,
    camera_on: bool,
    microphone: Option<String>,
    mic_on: bool,
) -> Result<PreviewState, AppError> {
    if state.call_running() {
        return Err(AppError::new(
            ErrorCode::InvalidInput,
            "A call is running; leave it first.",
        ));
    }
    let preview = state.preview.clone();
    let generation = state.meter_generation.fetch_add(1, Ordering::SeqCst) + 1;
    let (result, level) = tokio::task::spawn_blocking(move || {
        let mut p = preview.lock().map_err(AppError::internal)?;
        let choice = camera_on.then(|| camera_choice(camera.as_deref()));
        let camera_error = p
            .set_camera(choice.as_ref(), PREVIEW)
            .err()
            .map(|e| e.to_string());
        let mic = mic_on.then(|| mic_choice(microphone.as_deref()));
        let mic_error = p.set_mic(mic).err().map(|e| e.to_string());
        let state = PreviewState {
            camera: p.camera_name().map(str::to_owned),
            camera_error,
            mic_error,
        };
        Ok::<_, AppError>((state, p.level()))
    })
    .await
    .map_err(AppError::internal)??;
    if let Some(mut level) = level {
        let counter = state.meter_generation.clone();
        tauri::async_runtime::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            while counter.load(Ordering::SeqCst) == generation {
                tick.tick().await;
                if level.has_changed().is_err() {
                    break;
                }
                let dbfs = level.borrow_and_update().rms_dbfs;
                crate::emit(&app, MicLevel { dbfs });
            }
        });
    }
    Ok(result)
}

/// Closes the preview devices (leaving prejoin).
#[tauri::command]
#[specta::specta]
pub(crate) async fn preview_close(state: State<'_, AppState>) -> Result<(), AppError> {
    crate::close_preview(&state).await
}

/// Plays the test chime on a speaker (during a call: on the call's speaker).
#[tauri::command]
#[specta::specta]
pub(crate) async fn speaker_test(
    state: State<'_, AppState>,
    speaker: Option<String>,
) -> Result<(), AppError> {
    if let Some(call) = state.call() {
        return Ok(call.test_speaker()?);
    }
    let preview = state.preview.clone();
    tokio::task::spawn_blocking(move || {
        let mut p = preview.lock().map_err(AppError::internal)?;
        p.test_speaker(speaker_choice(speaker.as_deref()))
            .map_err(|e| {
                AppError::new(
                    ErrorCode::Device,
                    format!("The speaker could not play: {e}."),
                )
            })
    })
    .await
    .map_err(AppError::internal)?
}
