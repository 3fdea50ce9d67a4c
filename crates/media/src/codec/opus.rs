//! Opus through libopus: 48 kHz mono speech, 20 ms packets, as browsers send
//! and expect in calls.

use super::CodecError;

/// Samples per channel in one 20 ms packet at 48 kHz.
pub const FRAME_SAMPLES: usize = 960;
/// Longest packet accepted or produced.
const MAX_PACKET: usize = 1500;
/// Longest picture of silence a packet can decode to (120 ms).
const MAX_DECODED: usize = 5760;

/// Encodes the microphone's 10 ms blocks into 20 ms Opus packets.
pub struct OpusEncoder {
    inner: opus::Encoder,
    pending: Vec<i16>,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

fn err(what: &str, e: opus::Error) -> CodecError {
    CodecError::Opus(format!("{what}: {e}"))
}

impl OpusEncoder {
    pub fn new() -> Result<Self, CodecError> {
        let mut inner = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)
            .map_err(|e| err("Opus encoder", e))?;
        inner
            .set_bitrate(opus::Bitrate::Bits(32_000))
            .map_err(|e| err("Opus bitrate", e))?;
        // In-band forward error correction: a lost packet is rebuilt from
        // the next one, as browsers negotiate with `useinbandfec=1`.
        inner.set_inband_fec(true).map_err(|e| err("Opus FEC", e))?;
        inner
            .set_packet_loss_perc(5)
            .map_err(|e| err("Opus loss", e))?;
        Ok(Self {
            inner,
            pending: Vec::with_capacity(FRAME_SAMPLES * 2),
        })
    }

    /// Takes any number of samples; returns the packets completed.
    pub fn push(&mut self, samples: &[i16]) -> Result<Vec<Vec<u8>>, CodecError> {
        self.pending.extend_from_slice(samples);
        let mut out = Vec::new();
        while self.pending.len() >= FRAME_SAMPLES {
            let mut packet = vec![0u8; MAX_PACKET];
            let n = self
                .inner
                .encode(&self.pending[..FRAME_SAMPLES], &mut packet)
                .map_err(|e| err("Opus encode", e))?;
            packet.truncate(n);
            out.push(packet);
            self.pending.drain(..FRAME_SAMPLES);
        }
        Ok(out)
    }
}

/// Decodes Opus packets (mono or stereo, as the sender chose) to 48 kHz mono.
pub struct OpusDecoder {
    inner: opus::Decoder,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder").finish_non_exhaustive()
    }
}

impl OpusDecoder {
    pub fn new() -> Result<Self, CodecError> {
        Ok(Self {
            inner: opus::Decoder::new(48_000, opus::Channels::Mono)
                .map_err(|e| err("Opus decoder", e))?,
        })
    }

    /// Decodes one packet; `None` (a lost packet) conceals 20 ms.
    pub fn decode(&mut self, packet: Option<&[u8]>) -> Result<Vec<i16>, CodecError> {
        if packet.is_some_and(|p| p.len() > MAX_PACKET) {
            return Err(CodecError::Opus("an Opus packet too large".into()));
        }
        let mut out = vec![0i16; MAX_DECODED];
        let n = match packet {
            Some(p) => self.inner.decode(p, &mut out, false),
            None => self.inner.decode(&[], &mut out[..FRAME_SAMPLES], false),
        }
        .map_err(|e| err("Opus decode", e))?;
        out.truncate(n);
        Ok(out)
    }
}
