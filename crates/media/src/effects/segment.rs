//! Where the person is in a picture: MediaPipe's selfie segmentation
//! (landscape, 256×144), run on the CPU by tract. The model is built into
//! the program (437 kB; `models/README.md` says where it comes from).

use tract_onnx::prelude::*;

use crate::I420Frame;

/// Why an effect cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EffectError {
    #[error("the person segmentation model cannot be used: {0}")]
    Model(String),
}

/// The model's picture size, and so the mask's.
pub const MASK_WIDTH: usize = 256;
pub const MASK_HEIGHT: usize = 144;

static MODEL: &[u8] = include_bytes!("../../models/selfie_segmentation_landscape.onnx");

type Plan = std::sync::Arc<TypedRunnableModel>;

/// A loaded model, ready to run (clones share it; runs from several
/// threads at once are fine: each run has its own state).
#[derive(Clone)]
pub struct Segmenter {
    plan: Plan,
}

impl std::fmt::Debug for Segmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Segmenter")
    }
}

impl Segmenter {
    /// The built-in model, prepared once for the whole program (about
    /// 0.1 s, the first time): a camera opened again, or another camera,
    /// starts its effect at once.
    pub fn new() -> Result<Self, EffectError> {
        static BUILT_IN: std::sync::OnceLock<Result<Segmenter, EffectError>> =
            std::sync::OnceLock::new();
        BUILT_IN.get_or_init(|| Self::from_bytes(MODEL)).clone()
    }

    /// A model from `bytes` (an ONNX file with the built-in one's input
    /// and output): anything else is refused with the reason.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EffectError> {
        let bad = |e: TractError| EffectError::Model(format!("{e:#}"));
        let plan = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(bytes))
            .map_err(bad)?
            .with_input_fact(0, f32::fact([1, MASK_HEIGHT, MASK_WIDTH, 3]).into())
            .map_err(bad)?
            .into_optimized()
            .map_err(bad)?
            .into_runnable()
            .map_err(bad)?;
        let out = plan
            .model()
            .output_fact(0)
            .map_err(bad)?
            .shape
            .as_concrete()
            .map(<[usize]>::to_vec);
        if out.as_deref() != Some(&[1, MASK_HEIGHT, MASK_WIDTH, 1][..]) {
            return Err(EffectError::Model(format!(
                "its output is {out:?}, not a {MASK_WIDTH}×{MASK_HEIGHT} mask"
            )));
        }
        Ok(Self { plan })
    }

    /// How likely each of the mask's pixels (row by row, 256×144, the
    /// picture stretched to it) shows the person: 0 to 1.
    pub fn mask(&self, frame: &I420Frame) -> Result<Vec<f32>, EffectError> {
        let input = model_input(frame)?;
        let out = self
            .plan
            .run(tvec!(input.into()))
            .map_err(|e| EffectError::Model(format!("{e:#}")))?;
        let view = out[0]
            .to_plain_array_view::<f32>()
            .map_err(|e| EffectError::Model(format!("{e:#}")))?;
        Ok(view.iter().map(|p| p.clamp(0.0, 1.0)).collect())
    }
}

/// The picture as the model takes it: 256×144 RGB from 0 to 1, sampled at
/// the centre of each cell (BT.601, limited range: what cameras send).
fn model_input(frame: &I420Frame) -> Result<Tensor, EffectError> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let (y, u, v) = frame.planes();
    let cw = w.div_ceil(2);
    let mut data = Vec::with_capacity(MASK_WIDTH * MASK_HEIGHT * 3);
    for oy in 0..MASK_HEIGHT {
        let sy = ((2 * oy + 1) * h / (2 * MASK_HEIGHT)).min(h - 1);
        for ox in 0..MASK_WIDTH {
            let sx = ((2 * ox + 1) * w / (2 * MASK_WIDTH)).min(w - 1);
            let luma = (f32::from(y[sy * w + sx]) - 16.0) * 1.164;
            let c = (sy / 2) * cw + sx / 2;
            let (cb, cr) = (f32::from(u[c]) - 128.0, f32::from(v[c]) - 128.0);
            let r = luma + 1.596 * cr;
            let g = luma - 0.392 * cb - 0.813 * cr;
            let b = luma + 2.017 * cb;
            data.extend([r, g, b].map(|c| (c / 255.0).clamp(0.0, 1.0)));
        }
    }
    tract_ndarray::Array4::from_shape_vec((1, MASK_HEIGHT, MASK_WIDTH, 3), data)
        .map(Tensor::from)
        .map_err(|e| EffectError::Model(e.to_string()))
}
