//! zstd across several frames (ruzstd's decoder reads exactly one).
use crate::read::Source;
use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{FrameDecoder, StreamingDecoder};
use std::io::{self, Read};

/// A zstd stream of one or more frames (ruzstd's decoder reads exactly one), skippable
/// frames skipped.
pub struct ZstdFrames<S: Source> {
    src: S,
    frame: Option<StreamingDecoder<S, FrameDecoder>>,
}

impl<S: Source> ZstdFrames<S> {
    pub fn new(src: S) -> Self {
        ZstdFrames { src, frame: None }
    }
}

impl<S: Source> Read for ZstdFrames<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(frame) = &mut self.frame {
                let n = frame.read(buf)?;
                if n > 0 {
                    return Ok(n);
                }
                self.frame = None;
            }
            if self.src.at_end()? {
                return Ok(0);
            }
            match StreamingDecoder::new(self.src.clone()) {
                Ok(frame) => self.frame = Some(frame),
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                    length,
                    ..
                })) => {
                    let n = io::copy(
                        &mut (&mut self.src).take(u64::from(length)),
                        &mut io::sink(),
                    )?;
                    if n < u64::from(length) {
                        return Err(io::Error::other("zstd: skippable frame cut short"));
                    }
                }
                Err(e) => return Err(io::Error::other(format!("zstd: {e}"))),
            }
        }
    }
}
