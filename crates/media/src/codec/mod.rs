//! Codecs for calls that do not go through LiveKit (seed 004's peer-to-peer
//! calls): VP8 and Opus, the pair every browser offers.

mod opus;
mod vp8;

pub use self::opus::{FRAME_SAMPLES, OpusDecoder, OpusEncoder};
pub use vp8::{Encoded, Vp8Decoder, Vp8Encoder, Vp8Settings};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("VP8: {0}")]
    Vp8(String),
    #[error("Opus: {0}")]
    Opus(String),
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::I420Frame;
    use crate::audio::{dominant_hz, tone};
    use crate::stamp::{self, Stamp};

    fn stamped(width: u32, height: u32, counter: u32) -> I420Frame {
        let mut f = I420Frame::new(width, height).unwrap();
        let (y, u, v) = f.planes_mut();
        y.fill(90);
        u.fill(100);
        v.fill(160);
        stamp::draw(
            y,
            u,
            v,
            width,
            Stamp {
                counter,
                time_ms: 1234 + u64::from(counter),
            },
        );
        f
    }

    /// A lower target bitrate set mid-stream makes the encoder spend
    /// fewer bytes on the same busy pictures (what congestion control
    /// relies on), and it still decodes.
    #[test]
    fn vp8_follows_a_changed_bitrate() {
        let mut enc = Vp8Encoder::new(Vp8Settings::for_camera(320, 240, 30)).unwrap();
        let mut dec = Vp8Decoder::new().unwrap();
        let mut seed = 1u32;
        let mut bytes_at = |enc: &mut Vp8Encoder, from: u32| -> usize {
            let mut total = 0;
            for n in from..from + 60 {
                // A moving texture with a little noise: busy, as a camera's
                // picture is, yet compressible.
                let mut f = I420Frame::new(320, 240).unwrap();
                for (i, p) in f.planes_mut().0.iter_mut().enumerate() {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let (x, y) = (i as u32 % 320, i as u32 / 320);
                    *p = (((x + n * 4) ^ (y * 3)) as u8 & 0xf0) + (seed >> 28) as u8;
                }
                for e in enc.encode(&f, i64::from(n) * 3000, false).unwrap() {
                    total += e.data.len();
                    assert!(dec.decode(&e.data).unwrap().is_some());
                }
            }
            total
        };
        enc.set_kbps(1500).unwrap();
        let high = bytes_at(&mut enc, 0);
        enc.set_kbps(150).unwrap();
        assert_eq!(enc.settings().kbps, 150);
        let low = bytes_at(&mut enc, 60);
        assert!(
            low * 3 < high,
            "{low} bytes at 150 kbit/s against {high} at 1500"
        );
    }

    /// Pictures survive a VP8 round trip well enough that the counter drawn
    /// in them reads back, in order; the first frame is a keyframe and a
    /// forced one is too.
    #[test]
    fn vp8_round_trip_keeps_the_stamped_counter() {
        let mut enc = Vp8Encoder::new(Vp8Settings::for_camera(320, 240, 30)).unwrap();
        let mut dec = Vp8Decoder::new().unwrap();
        let mut read = Vec::new();
        let mut keys = Vec::new();
        for n in 0..20u32 {
            let frame = stamped(320, 240, n);
            let out = enc.encode(&frame, i64::from(n) * 3000, n == 10).unwrap();
            for e in out {
                keys.push((n, e.keyframe));
                let pic = dec.decode(&e.data).unwrap().unwrap();
                assert_eq!((pic.width(), pic.height()), (320, 240));
                let s = stamp::read(pic.planes().0, 320, 320, 240).unwrap();
                read.push(s.counter);
            }
        }
        assert_eq!(read, (0..20).collect::<Vec<_>>());
        assert!(
            keys.contains(&(0, true)) && keys.contains(&(10, true)),
            "{keys:?}"
        );
        assert!(keys.contains(&(5, false)));
    }

    /// A picture of another size is scaled to the encoder's.
    #[test]
    fn vp8_scales_pictures_of_another_size() {
        let mut enc = Vp8Encoder::new(Vp8Settings::for_camera(160, 120, 15)).unwrap();
        let mut dec = Vp8Decoder::new().unwrap();
        let out = enc.encode(&stamped(640, 480, 7), 0, false).unwrap();
        let pic = dec.decode(&out[0].data).unwrap().unwrap();
        assert_eq!((pic.width(), pic.height()), (160, 120));
    }

    /// Garbage from the network is an error, never a crash; odd sizes are refused.
    #[test]
    fn vp8_refuses_garbage_and_odd_sizes() {
        let mut dec = Vp8Decoder::new().unwrap();
        assert!(dec.decode(&[0xff; 64]).is_err());
        assert_eq!(dec.decode(&[]).unwrap().map(|f| f.width()), None);
        assert!(Vp8Encoder::new(Vp8Settings::for_camera(321, 240, 30)).is_err());
        assert!(Vp8Encoder::new(Vp8Settings::for_camera(0, 0, 30)).is_err());
    }

    /// A tone survives Opus: same pitch out as in, 20 ms per packet, and a
    /// lost packet is concealed with 20 ms of sound.
    #[test]
    fn opus_round_trip_keeps_the_pitch() {
        let mut enc = OpusEncoder::new().unwrap();
        let mut dec = OpusDecoder::new().unwrap();
        let mut t = tone(660.0);
        let mut heard = Vec::new();
        for _ in 0..100 {
            let mut block = [0i16; 480];
            t.fill(&mut block);
            for p in enc.push(&block).unwrap() {
                assert!(p.len() < 400, "{} bytes for 20 ms", p.len());
                let pcm = dec.decode(Some(&p)).unwrap();
                assert_eq!(pcm.len(), FRAME_SAMPLES);
                heard.extend(pcm);
            }
        }
        assert_eq!(heard.len(), 50 * FRAME_SAMPLES);
        let hz = dominant_hz(&heard[24_000..], 48_000);
        assert!((hz - 660.0).abs() < 6.0, "{hz} Hz");
        assert_eq!(dec.decode(None).unwrap().len(), FRAME_SAMPLES);
        assert!(dec.decode(Some(&[0xff; 3000])).is_err());
    }
}
