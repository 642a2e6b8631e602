//! H.264 encoding of rendered frames (ffmpeg-next, libx264, yuv420p, MP4).

use std::path::{Path, PathBuf};

use ffmpeg::{Dictionary, Packet, Rational, codec, encoder, format, frame, software::scaling};
use ffmpeg_next as ffmpeg;

use super::SimError;

/// Writes RGBA frames into an H.264 MP4 at a constant frame rate.
pub struct H264Writer {
    path: PathBuf,
    output: format::context::Output,
    encoder: encoder::Video,
    scaler: scaling::Context,
    rgba: frame::Video,
    yuv: frame::Video,
    time_base: Rational,
    stream_time_base: Rational,
    next_pts: i64,
}

// SAFETY: the FFmpeg contexts are owned by the writer and only used through `&mut self`; FFmpeg
// allows a context to move between threads when it is not used concurrently.
unsafe impl Send for H264Writer {}

impl H264Writer {
    /// Creates `path` for `width × height` frames at `fps` (x264 `preset` and `crf`).
    ///
    /// # Errors
    ///
    /// [`SimError::Encode`] when FFmpeg has no H.264 encoder or refuses the settings.
    pub fn create(path: &Path, width: u32, height: u32, fps: f64, preset: &str, crf: u8) -> Result<Self, SimError> {
        crate::stages::video_decoding::init_ffmpeg();
        let err = |what: &str, e: ffmpeg::Error| SimError::Encode {
            path: path.to_path_buf(),
            message: format!("{what}: {e}"),
        };
        let mut output = format::output(path).map_err(|e| err("cannot create the MP4 file", e))?;
        let global_header = output.format().flags().contains(format::Flags::GLOBAL_HEADER);
        let codec = encoder::find_by_name("libx264").or_else(|| encoder::find(codec::Id::H264)).ok_or_else(|| {
            SimError::Encode { path: path.to_path_buf(), message: "this FFmpeg has no H.264 encoder".into() }
        })?;
        // Frame rate as an exact rational for the usual rates (25, 29.97 = 30000/1001, ...).
        let frame_rate = Rational::new((fps * 1001.0).round() as i32, 1001).reduce();
        let time_base = frame_rate.invert();
        let mut stream = output.add_stream(codec).map_err(|e| err("cannot add the video stream", e))?;
        let mut enc = codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()
            .map_err(|e| err("cannot make the encoder", e))?;
        enc.set_width(width);
        enc.set_height(height);
        enc.set_format(format::Pixel::YUV420P);
        enc.set_time_base(time_base);
        enc.set_frame_rate(Some(frame_rate));
        if global_header {
            enc.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let mut opts = Dictionary::new();
        opts.set("preset", preset);
        opts.set("crf", &crf.to_string());
        let encoder = enc.open_as_with(codec, opts).map_err(|e| err("cannot open the H.264 encoder", e))?;
        stream.set_parameters(&encoder);
        stream.set_time_base(time_base);
        output.write_header().map_err(|e| err("cannot write the MP4 header", e))?;
        let stream_time_base = output.stream(0).expect("added above").time_base();
        let scaler = scaling::Context::get(
            format::Pixel::RGBA,
            width,
            height,
            format::Pixel::YUV420P,
            width,
            height,
            scaling::Flags::BILINEAR,
        )
        .map_err(|e| err("cannot convert RGBA to YUV", e))?;
        Ok(H264Writer {
            path: path.to_path_buf(),
            output,
            encoder,
            scaler,
            rgba: frame::Video::new(format::Pixel::RGBA, width, height),
            yuv: frame::Video::new(format::Pixel::YUV420P, width, height),
            time_base,
            stream_time_base,
            next_pts: 0,
        })
    }

    fn err(&self, what: &str, e: ffmpeg::Error) -> SimError {
        SimError::Encode { path: self.path.clone(), message: format!("{what}: {e}") }
    }

    /// Encodes one frame of tightly packed RGBA (`width * height * 4` bytes, opaque).
    ///
    /// # Errors
    ///
    /// [`SimError::Encode`] when the buffer is not one frame of the writer's size, or when
    /// encoding or writing fails.
    pub fn write(&mut self, rgba: &[u8]) -> Result<(), SimError> {
        let (w, h) = (self.rgba.width() as usize, self.rgba.height() as usize);
        if rgba.len() != w * h * 4 {
            return Err(SimError::Encode {
                path: self.path.clone(),
                message: format!("expected a {w}x{h} RGBA frame ({} bytes), found {} bytes", w * h * 4, rgba.len()),
            });
        }
        let stride = self.rgba.stride(0);
        let plane = self.rgba.data_mut(0);
        for y in 0..h {
            plane[y * stride..y * stride + w * 4].copy_from_slice(&rgba[y * w * 4..(y + 1) * w * 4]);
        }
        self.scaler.run(&self.rgba, &mut self.yuv).map_err(|e| self.err("cannot convert RGBA to YUV", e))?;
        self.yuv.set_pts(Some(self.next_pts));
        self.next_pts += 1;
        self.encoder.send_frame(&self.yuv).map_err(|e| self.err("encoding failed", e))?;
        self.drain()
    }

    fn drain(&mut self) -> Result<(), SimError> {
        let mut packet = Packet::empty();
        while self.encoder.receive_packet(&mut packet).is_ok() {
            packet.set_stream(0);
            // Every frame lasts one frame period; without a duration the last frame of the
            // file has none and players drop it.
            packet.set_duration(1);
            packet.rescale_ts(self.time_base, self.stream_time_base);
            packet.write_interleaved(&mut self.output).map_err(|e| self.err("cannot write to the MP4 file", e))?;
        }
        Ok(())
    }

    /// Flushes the encoder and completes the file.
    ///
    /// # Errors
    ///
    /// [`SimError::Encode`] when flushing or writing the trailer fails.
    pub fn finish(mut self) -> Result<(), SimError> {
        self.encoder.send_eof().map_err(|e| self.err("cannot flush the encoder", e))?;
        self.drain()?;
        self.output.write_trailer().map_err(|e| self.err("cannot complete the MP4 file", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_frame_size_is_an_error_and_good_frames_make_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.mp4");
        let mut w = H264Writer::create(&path, 64, 48, 25.0, "ultrafast", 30).unwrap();
        let e = w.write(&[0; 10]).unwrap_err().to_string();
        assert!(e.contains("expected a 64x48 RGBA frame (12288 bytes), found 10 bytes"), "{e}");
        w.write(&[128; 64 * 48 * 4]).unwrap();
        w.finish().unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 0);
    }
}
