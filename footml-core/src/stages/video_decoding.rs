//! Video decoding with FFmpeg (through `ffmpeg-next`): the [`VideoSource`] frame source.
//!
//! One demux pass reads the file: video packets go to a multi-threaded FFmpeg decoder,
//! decoded frames are scaled and converted to packed RGB24 by a single swscale call, and
//! (with `extract_audio`) the first audio stream is decoded and written to a WAV file in the
//! same pass.
//!
//! # Which frames come out
//!
//! Frame selection depends only on timestamps, so it is deterministic and survives a seek:
//!
//! * With `target_fps = F`, output frame `k` (time `k / F`) is the first decoded frame whose
//!   presentation time, relative to the stream start, is at or after `k / F`. Timestamps are
//!   rounded to the container's time base, so "at or after" allows half a time-base tick
//!   (at most a tenth of a frame). When `F` is above the source rate a source frame serves
//!   several ticks and is repeated (the same pixels, shared).
//! * Without `target_fps`, every decoded frame comes out once; its index is its position on
//!   the stream's nominal frame clock (`round(t × fps)`), which counts frames for
//!   constant-frame-rate video. A lost frame therefore leaves a gap in the indices instead
//!   of shifting every later frame, so `index / fps` stays the frame's time. A frame later
//!   than the previous one but on the same slot (variable frame rate) takes the next index.
//!   A frame whose time is not after the latest frame's (a duplicate, or a frame a damaged
//!   stream delivers late, possibly with a later frame's timestamp) is dropped: its slot
//!   has already been returned or counted lost.
//!
//! # Lost frames
//!
//! A damaged file is decoded as far as FFmpeg can; [`FrameSource::frames_lost`] estimates
//! how many frames of the analysed stream could not be produced:
//!
//! * **Gaps**: when two consecutive decoded frames are more than 1.5 nominal frame durations
//!   apart, frames are missing between them. The ticks of the analysed stream that those
//!   missing frames would have served (all ticks before the last ¾ frame duration before
//!   the later frame) are counted as lost and get no output frame.
//! * **Tail**: at the end of the stream, the ticks between the last output frame and the
//!   expected end are lost. The expected end comes from the container's frame count
//!   (MP4/MOV index) when it has one, else from the stream's duration as FFmpeg measures it
//!   from the timestamps (MPEG-TS, Matroska: it ends one frame after the last frame's
//!   time), never from a bitrate-based guess. When the end of a file is damaged too, that
//!   measure ends at the last readable timestamp and frames after it are not counted.
//!
//! So each tick of the analysed stream up to the expected end is either returned or counted
//! lost, once. Frames the decoder delivers with concealed errors are not counted as lost.
//!
//! # Audio
//!
//! With `extract_audio` the audio decoder sees every audio packet once, in file order, as in
//! a read from the start, also when [`FrameSource::seek`] moves the demuxer: the audio up to
//! a little past the seek point is read in a packet-only pass from where the demuxer is, and
//! after repositioning the packets already decoded are skipped rather than decoded again (a
//! second decode, or a decoder restart, would change the decoder's state, e.g. AAC's noise
//! generator, and every later sample). The WAV of a resumed run is therefore byte for byte
//! the WAV of an uninterrupted one.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use ffmpeg::ffi;
use ffmpeg_next as ffmpeg;

use crate::config::VideoDecodingConfig;
use crate::pipeline::stage::{Artifact, FrameSource};
use crate::types::{FrameItem, FrameRecord, RgbFrame, VideoInfo};

/// Errors of video decoding.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VideoError {
    /// The file does not exist.
    #[error("video file not found: {0}")]
    NotFound(std::path::PathBuf),
    /// FFmpeg could not recognise the file as a media container.
    #[error("{}: expected a video file FFmpeg can read, found {found}", path.display())]
    NotAMediaFile {
        /// The file.
        path: PathBuf,
        /// What FFmpeg said about it.
        found: String,
    },
    /// The file is a media file without a video stream.
    #[error("{}: no video stream: expected one, found {found}", path.display())]
    NoVideoStream {
        /// The file.
        path: PathBuf,
        /// The streams the file has (e.g. `"only audio (aac)"`).
        found: String,
    },
    /// The video stream's codec has no decoder in the linked FFmpeg.
    #[error("{}: expected a video codec this FFmpeg can decode, found `{codec}`", path.display())]
    UnsupportedCodec {
        /// The file.
        path: PathBuf,
        /// The codec's name (`"none"` when FFmpeg does not know it at all).
        codec: String,
    },
    /// The video stream could not be decoded or converted.
    #[error("{}: video decoding failed: {message}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Audio extraction failed.
    #[error("{}: audio extraction failed: {message}", path.display())]
    Audio {
        /// The video file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Reading the input or writing the audio file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// The size frames are scaled to for a source of `src` = (width, height) and a
/// `target_resolution` box `[width, height]`.
///
/// The result is the largest size with the source's aspect ratio (of its stored pixels) that
/// fits the box, with both sides rounded to even numbers (at least 2). A source that already
/// fits is never upscaled and keeps its size.
pub fn fit_within(src: (u32, u32), bounds: [u32; 2]) -> (u32, u32) {
    let (w, h) = src;
    let [bw, bh] = bounds;
    if w == 0 || h == 0 || (w <= bw && h <= bh) {
        return (w, h);
    }
    let even_floor = |v: u32| (v & !1).max(2);
    let even_round = |v: f64| ((v / 2.0).round() as u32 * 2).max(2);
    // The binding side fills the box; the other follows from it (after the even rounding,
    // so the aspect error stays under one pixel).
    if u64::from(bw) * u64::from(h) <= u64::from(bh) * u64::from(w) {
        let ow = even_floor(bw);
        (ow, even_round(f64::from(ow) * f64::from(h) / f64::from(w)).min(even_floor(bh)))
    } else {
        let oh = even_floor(bh);
        (even_round(f64::from(oh) * f64::from(w) / f64::from(h)).min(even_floor(bw)), oh)
    }
}

/// FFmpeg decoding of one video file into RGB frames: the source of a video pipeline.
///
/// See the [module docs](self) for which frames come out and how lost frames are counted.
///
/// * `target_resolution`: frames are scaled straight from the decoder's output to the size
///   [`fit_within`] gives (aspect kept, even sides, never upscaled) and converted to RGB24
///   in the same swscale call (bilinear), honouring the stream's colour matrix and range.
/// * Decoding uses FFmpeg's frame and slice threads (`threads`, 0 = FFmpeg's choice).
/// * `extract_audio`: the first audio stream is written as `audio.wav` (16-bit PCM,
///   interleaved, the stream's sample rate and channel count) in the directory given to
///   [`VideoSource::open`], during the same demux pass as the video. A video without an
///   audio stream is not an error: no file is written (a warning is logged) and
///   [`FrameSource::side_outputs`] is empty. The WAV starts at the first decoded audio
///   sample; gaps in the audio timestamps are filled with silence so the WAV keeps the
///   file's timeline. The WAV header is completed when the stream ends (or when the source
///   is dropped). An `audio.wav` already in the directory (left by an interrupted run) is
///   replaced when the source opens; after a [`FrameSource::seek`] the whole track is still
///   written, identical to an uninterrupted run's (see the [module docs](self#audio)).
pub struct VideoSource {
    path: PathBuf,
    threads: usize,
    input: ffmpeg::format::context::Input,
    video_index: usize,
    decoder: ffmpeg::decoder::Video,
    /// Video stream time base, in seconds per tick.
    time_base: f64,
    /// Stream start in time-base ticks: timestamps are relative to it.
    start_pts: i64,
    clock: Clock,
    out_size: (u32, u32),
    scaler: Scaler,
    decoded: ffmpeg::frame::Video,
    /// Frames already converted but not returned yet (repeated frames when upsampling).
    pending: VecDeque<FrameItem>,
    /// Recently returned frames; one nobody else holds any more is reused.
    pool: VecDeque<Arc<RgbFrame>>,
    prev: Prev,
    /// The next index to be returned; ticks below it are dropped.
    next_index: u64,
    /// The index of the last frame returned since opening or seeking.
    last_emitted: Option<u64>,
    lost: u64,
    decode_errors: u64,
    eof_sent: bool,
    finished: bool,
    /// Expected number of frames of the analysed stream, when the container says so
    /// reliably enough to count a missing tail as lost.
    expected_frames: Option<u64>,
    audio: Option<AudioExtractor>,
    info: VideoInfo,
}

/// How decoded frames map to output indices.
#[derive(Debug, Clone, Copy)]
struct Clock {
    /// Ticks per second of the analysed stream.
    fps: f64,
    /// `target_fps` given: pick frames per tick. Otherwise keep every frame.
    resample: bool,
    /// Nominal duration of one source frame, seconds.
    src_frame_s: f64,
    /// Allowance for timestamps rounded to the time base, seconds.
    eps: f64,
}

impl Clock {
    /// The last tick at or before time `t` (seconds from the stream start).
    fn tick_floor(&self, t: f64) -> i64 {
        ((t + self.eps) * self.fps).floor() as i64
    }

    /// The time of tick `k`, seconds.
    fn tick_time(&self, k: u64) -> f64 {
        k as f64 / self.fps
    }
}

/// What is known about the decoded frame before the current one.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Prev {
    /// Reading from the start of the file: as if a frame stood one frame before the start,
    /// so a file whose first frames are missing counts them as lost.
    Start,
    /// The previous decoded frame's time, seconds from the stream start.
    At(f64),
}

/// At most this many recently returned frames are kept for reuse.
const POOL_SIZE: usize = 8;
/// After this many consecutive read or decode errors the rest of the file is given up.
const MAX_CONSECUTIVE_ERRORS: u32 = 1000;

static FFMPEG_INIT: Once = Once::new();

pub(crate) fn init_ffmpeg() {
    FFMPEG_INIT.call_once(|| {
        // Registration is a no-op on FFmpeg ≥ 4 but harmless. FFmpeg's own log goes to
        // stderr and, on damaged input, prints a line per broken macroblock, which would
        // garble progress bars and service logs; footml reports damage through
        // `frames_lost`/`decode_errors` and failures through `VideoError`, so only fatal
        // messages are kept. An application wanting FFmpeg's log can raise the level with
        // `ffmpeg_next::log::set_level` after opening its first video.
        let _ = ffmpeg::init();
        ffmpeg::log::set_level(ffmpeg::log::Level::Fatal);
    });
}

/// "Feed more input" / "no output yet" from FFmpeg's send/receive API.
fn is_eagain(e: &ffmpeg::Error) -> bool {
    matches!(e, ffmpeg::Error::Other { errno } if *errno == ffmpeg::error::EAGAIN)
}

/// The nominal frame rate of a stream: average, else base rate, else `None`.
fn nominal_rate(avg: ffmpeg::Rational, base: ffmpeg::Rational) -> Option<f64> {
    [avg, base]
        .into_iter()
        .filter(|r| r.numerator() > 0 && r.denominator() > 0)
        .map(f64::from)
        .find(|f| f.is_finite() && *f > 0.0 && *f < 1000.0)
}

/// Everything [`VideoSource`] reads from the container before decoding.
struct Probe {
    input: ffmpeg::format::context::Input,
    video_index: usize,
    audio_index: Option<usize>,
}

fn open_input(path: &Path) -> Result<Probe, VideoError> {
    if !path.exists() {
        return Err(VideoError::NotFound(path.to_path_buf()));
    }
    let input = match ffmpeg::format::input(&path) {
        Ok(i) => i,
        Err(e @ (ffmpeg::Error::InvalidData | ffmpeg::Error::DemuxerNotFound)) => {
            return Err(VideoError::NotAMediaFile {
                path: path.to_path_buf(),
                found: format!(
                    "data FFmpeg cannot parse ({e}; an MP4 cut before its index is written is unreadable too)"
                ),
            });
        }
        Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::error::ENOENT => {
            return Err(VideoError::NotFound(path.to_path_buf()));
        }
        Err(ffmpeg::Error::Other { errno }) => {
            return Err(VideoError::Io { path: path.to_path_buf(), source: std::io::Error::from_raw_os_error(errno) });
        }
        Err(e) => {
            return Err(VideoError::NotAMediaFile { path: path.to_path_buf(), found: e.to_string() });
        }
    };
    // The `tty` demuxer renders text files as "ANSI art" video; that is never a match video.
    if input.format().name() == "tty" {
        return Err(VideoError::NotAMediaFile { path: path.to_path_buf(), found: "a text file".into() });
    }
    let video_index = input
        .streams()
        .best(ffmpeg::media::Type::Video)
        // An attached picture (cover art of an audio file) is a video stream of one frame.
        .filter(|s| !s.disposition().contains(ffmpeg::format::stream::Disposition::ATTACHED_PIC))
        .map(|s| s.index());
    let Some(video_index) = video_index else {
        return Err(VideoError::NoVideoStream { path: path.to_path_buf(), found: describe_streams(&input) });
    };
    let audio_index = input.streams().best(ffmpeg::media::Type::Audio).map(|s| s.index());
    Ok(Probe { input, video_index, audio_index })
}

fn describe_streams(input: &ffmpeg::format::context::Input) -> String {
    let streams: Vec<String> = input
        .streams()
        .map(|s| {
            let p = s.parameters();
            let kind = match p.medium() {
                ffmpeg::media::Type::Video => "attached picture",
                ffmpeg::media::Type::Audio => "audio",
                ffmpeg::media::Type::Subtitle => "subtitle",
                ffmpeg::media::Type::Data => "data",
                _ => "other",
            };
            format!("{kind} ({})", p.id().name())
        })
        .collect();
    if streams.is_empty() { "no streams".into() } else { format!("only {}", streams.join(", ")) }
}

/// Opens a decoder with FFmpeg threading on.
fn open_decoder(
    path: &Path,
    params: ffmpeg::codec::Parameters,
    time_base: ffmpeg::Rational,
    threads: usize,
) -> Result<ffmpeg::decoder::Opened, VideoError> {
    let id = params.id();
    let Some(codec) = ffmpeg::decoder::find(id) else {
        return Err(VideoError::UnsupportedCodec { path: path.to_path_buf(), codec: id.name().to_string() });
    };
    let decode_err = |e: ffmpeg::Error| VideoError::Decode {
        path: path.to_path_buf(),
        message: format!("cannot open the {} decoder: {e}", id.name()),
    };
    let mut ctx = ffmpeg::codec::context::Context::from_parameters(params).map_err(decode_err)?;
    ctx.set_threading(ffmpeg::threading::Config {
        kind: ffmpeg::threading::Type::Frame,
        count: threads,
        ..Default::default()
    });
    // SAFETY: `ctx` owns a valid, not yet opened AVCodecContext; these fields are plain
    // settings read when the decoder opens.
    unsafe {
        let raw = ctx.as_mut_ptr();
        // Frame and slice threads both allowed, as the ffmpeg CLI does: FFmpeg uses frame
        // threads where the codec has them and slice threads for codecs that only have those
        // (`set_threading` allows only one kind).
        (*raw).thread_type = ffi::FF_THREAD_FRAME | ffi::FF_THREAD_SLICE;
        // Needed for correct best-effort timestamps and for codecs that read it (e.g. skip
        // samples of AAC).
        (*raw).pkt_timebase = time_base.into();
    }
    ctx.decoder().open_as(codec).map_err(decode_err)
}

impl VideoSource {
    /// Opens `path` and prepares decoding with `cfg`.
    ///
    /// `audio_out` is the directory where `audio.wav` is written when `cfg.extract_audio` is
    /// set (created if missing); extracting audio without it is an error.
    ///
    /// # Errors
    ///
    /// [`VideoError::NotFound`], [`VideoError::NotAMediaFile`], [`VideoError::NoVideoStream`],
    /// [`VideoError::UnsupportedCodec`], [`VideoError::Decode`] when the decoder cannot be
    /// opened, [`VideoError::Audio`] / [`VideoError::Io`] when the audio file cannot be
    /// created; all wrapped in [`crate::Error::Video`].
    pub fn open(path: &Path, cfg: &VideoDecodingConfig, audio_out: Option<&Path>) -> Result<Self, crate::Error> {
        init_ffmpeg();
        let Probe { input, video_index, audio_index } = open_input(path)?;
        let stream = input.stream(video_index).expect("index from best()");
        let params = stream.parameters();
        let tb = stream.time_base();
        let time_base = f64::from(tb);
        let codec_name = params.id().name().to_string();
        let (src_w, src_h) = {
            // SAFETY: the parameters belong to a stream of the open input.
            let p = unsafe { &*params.as_ptr() };
            (p.width.max(0) as u32, p.height.max(0) as u32)
        };
        if src_w == 0 || src_h == 0 || time_base <= 0.0 {
            return Err(VideoError::Decode {
                path: path.to_path_buf(),
                message: format!(
                    "expected a video stream with a frame size and time base, found {src_w}x{src_h}, time base {tb}"
                ),
            }
            .into());
        }
        let src_fps = nominal_rate(stream.avg_frame_rate(), stream.rate()).unwrap_or_else(|| {
            tracing::warn!(path = %path.display(), "video stream has no frame rate; assuming 25 fps");
            25.0
        });
        let start_pts = match stream.start_time() {
            ffi::AV_NOPTS_VALUE => 0,
            s => s,
        };
        let stream_duration = match stream.duration() {
            ffi::AV_NOPTS_VALUE => None,
            d if d > 0 => Some(d as f64 * time_base),
            _ => None,
        };
        let nb_frames = u64::try_from(stream.frames()).ok().filter(|&n| n > 0);
        // SAFETY: `input` is an open AVFormatContext.
        let (format_duration, from_bitrate) = unsafe {
            let ctx = &*input.as_ptr();
            let d = (ctx.duration != ffi::AV_NOPTS_VALUE && ctx.duration > 0)
                .then(|| ctx.duration as f64 / f64::from(ffi::AV_TIME_BASE));
            (d, ctx.duration_estimation_method == ffi::AVDurationEstimationMethod::AVFMT_DURATION_FROM_BITRATE)
        };

        let decoder = open_decoder(path, params.clone(), tb, cfg.threads)?.video().map_err(|e| VideoError::Decode {
            path: path.to_path_buf(),
            message: format!("expected a video decoder, found {e}"),
        })?;

        let src_frame_s = 1.0 / src_fps;
        let fps = cfg.target_fps.filter(|f| *f > 0.0).unwrap_or(src_fps);
        let clock = Clock {
            fps,
            resample: cfg.target_fps.is_some(),
            src_frame_s,
            eps: (0.5 * time_base).min(0.1 * src_frame_s).max(1e-9),
        };
        let out_size = cfg.target_resolution.map_or((src_w, src_h), |b| fit_within((src_w, src_h), b));

        // Frames of the analysed stream: ticks up to the last source frame's time.
        let count_for = |last_frame_s: f64| {
            if clock.resample {
                (clock.tick_floor(last_frame_s) + 1).max(0) as u64
            } else {
                (last_frame_s * fps).round() as u64 + 1
            }
        };
        let duration_s = stream_duration.or(format_duration);
        let frame_count = match (nb_frames, duration_s) {
            (Some(n), _) => Some(count_for((n - 1) as f64 * src_frame_s)),
            (None, Some(d)) => Some(count_for((d * src_fps).round().max(1.0) / src_fps - src_frame_s)),
            _ => None,
        };
        // A stream duration FFmpeg measured from the timestamps (MPEG-TS, Matroska) ends one
        // frame after the last frame's time, so `frame_count` (which already takes that frame
        // off) is the exact count; taking another one off hid a lost last frame. A format-level
        // or bitrate-based duration is not trusted for counting losses.
        let expected_frames =
            if nb_frames.is_some() || (stream_duration.is_some() && !from_bitrate) { frame_count } else { None };

        let info = VideoInfo {
            path: path.display().to_string(),
            fps,
            width: out_size.0,
            height: out_size.1,
            duration_s,
            frame_count,
            codec: codec_name,
        };

        let mut source = VideoSource {
            path: path.to_path_buf(),
            threads: cfg.threads,
            input,
            video_index,
            decoder,
            time_base,
            start_pts,
            clock,
            out_size,
            scaler: Scaler::new(),
            decoded: ffmpeg::frame::Video::empty(),
            pending: VecDeque::new(),
            pool: VecDeque::new(),
            prev: Prev::Start,
            next_index: 0,
            last_emitted: None,
            lost: 0,
            decode_errors: 0,
            eof_sent: false,
            finished: false,
            expected_frames,
            audio: None,
            info,
        };
        if cfg.extract_audio {
            let Some(dir) = audio_out else {
                return Err(VideoError::Audio {
                    path: path.to_path_buf(),
                    message: "extract_audio is set but no output directory for audio.wav was given".into(),
                }
                .into());
            };
            match audio_index {
                Some(index) => source.audio = Some(AudioExtractor::new(&source.input, index, path, dir, cfg.threads)?),
                None => {
                    tracing::warn!(path = %path.display(), "extract_audio is set but the video has no audio stream")
                }
            }
        }
        Ok(source)
    }

    /// Decoding errors FFmpeg reported and footml skipped (damaged packets or frames).
    pub fn decode_errors(&self) -> u64 {
        self.decode_errors
    }

    /// The extracted audio file, when audio extraction is on and the video has audio.
    pub fn audio_path(&self) -> Option<&Path> {
        self.audio.as_ref().map(|a| a.wav.path.as_path())
    }

    fn decode_error(&self, message: String) -> crate::Error {
        VideoError::Decode { path: self.path.clone(), message }.into()
    }

    /// Seconds from the stream start of the frame in `self.decoded`.
    fn frame_time(&self) -> Option<f64> {
        let ts = self.decoded.timestamp().or_else(|| self.decoded.pts())?;
        Some((ts - self.start_pts) as f64 * self.time_base)
    }

    /// Receives one frame from the decoder, feeding packets as needed. `Ok(false)` at the end.
    fn decode_next(&mut self) -> Result<bool, crate::Error> {
        let mut errors = 0u32;
        loop {
            match self.decoder.receive_frame(&mut self.decoded) {
                Ok(()) => return Ok(true),
                Err(ffmpeg::Error::Eof) => return Ok(false),
                Err(e) if is_eagain(&e) => {
                    if self.eof_sent {
                        return Ok(false);
                    }
                    self.feed()?;
                }
                Err(e) => {
                    // A damaged frame: skip it; its absence shows in the timestamps.
                    tracing::debug!(error = %e, "video decode error");
                    self.decode_errors += 1;
                    errors += 1;
                    if errors > MAX_CONSECUTIVE_ERRORS {
                        return Ok(false);
                    }
                }
            }
        }
    }

    /// Sends the next video packet (or the end of stream) to the decoder, handing audio
    /// packets met on the way to the audio extractor.
    fn feed(&mut self) -> Result<(), crate::Error> {
        let mut errors = 0u32;
        loop {
            let mut packet = ffmpeg::Packet::empty();
            match packet.read(&mut self.input) {
                Ok(()) => {
                    errors = 0;
                    let index = packet.stream();
                    if index == self.video_index {
                        match self.decoder.send_packet(&packet) {
                            Ok(()) => return Ok(()),
                            Err(e) if is_eagain(&e) => {
                                return Err(
                                    self.decode_error("the decoder refused input while frames were pending".into())
                                );
                            }
                            Err(e) => {
                                tracing::debug!(error = %e, "video packet rejected");
                                self.decode_errors += 1;
                            }
                        }
                    } else if let Some(audio) = self.audio.as_mut().filter(|a| a.index == index) {
                        audio.packet(&packet, &self.path)?;
                    }
                }
                Err(ffmpeg::Error::Eof) => return self.send_eof(),
                Err(e) if is_eagain(&e) => {}
                Err(e) => {
                    // Demuxers resynchronise after damaged data; a persistent error (an I/O
                    // failure) ends the stream rather than looping forever.
                    tracing::debug!(error = %e, "demux error");
                    self.decode_errors += 1;
                    errors += 1;
                    if errors > MAX_CONSECUTIVE_ERRORS {
                        tracing::warn!(path = %self.path.display(), error = %e, "giving up reading after repeated errors");
                        return self.send_eof();
                    }
                }
            }
        }
    }

    fn send_eof(&mut self) -> Result<(), crate::Error> {
        self.eof_sent = true;
        match self.decoder.send_eof() {
            Ok(()) | Err(ffmpeg::Error::Eof) => Ok(()),
            Err(e) => Err(self.decode_error(format!("cannot drain the decoder: {e}"))),
        }
    }

    /// Maps the decoded frame to output ticks and queues the converted frame for each.
    fn on_frame(&mut self) -> Result<(), crate::Error> {
        let c = self.clock;
        let p = match self.frame_time() {
            Some(p) => p,
            // No timestamp at all: assume the frame follows the previous one.
            None => match self.prev {
                Prev::At(q) => q + c.src_frame_s,
                Prev::Start => 0.0,
            },
        };
        let prev = self.prev;
        self.prev = Prev::At(match prev {
            Prev::At(q) => q.max(p),
            Prev::Start => p,
        });
        let (first, last) = if c.resample {
            let q = match prev {
                Prev::Start => -c.src_frame_s,
                Prev::At(q) => q,
            };
            let mut first = c.tick_floor(q) + 1;
            if p - q > 1.5 * c.src_frame_s {
                // Frames are missing before this one: the ticks they would have served are
                // lost; this frame serves only the ticks of its own frame interval.
                first = first.max(c.tick_floor(p - 0.75 * c.src_frame_s) + 1);
            }
            let last = c.tick_floor(p);
            if last < 0 || (last as u64) < self.next_index {
                return Ok(());
            }
            (first.max(self.next_index as i64) as u64, last as u64)
        } else {
            if p < -0.5 * c.src_frame_s {
                // Before the stream start (decoder priming): not part of the video.
                return Ok(());
            }
            let mut k = (p * c.fps).round().max(0.0) as u64;
            match self.last_emitted {
                // A frame not later than the latest one: a duplicate, or a stale frame a
                // damaged stream delivers after later ones (its timestamp can even be a
                // later frame's, taken from the packet). Its slot is behind the timeline,
                // already returned or counted lost: renumbering it would shift every later
                // frame by one and count it twice.
                Some(_) if matches!(prev, Prev::At(q) if p <= q) => return Ok(()),
                // A later frame sharing a slot with the previous one (variable frame rate)
                // takes the next index: every frame is kept.
                Some(e) if k <= e => k = e + 1,
                _ if k < self.next_index => return Ok(()),
                _ => {}
            }
            (k, k)
        };
        if first > last {
            return Ok(());
        }
        self.lost += first - self.next_index;
        self.next_index = last + 1;
        self.last_emitted = Some(last);

        let image = Arc::new(self.convert()?);
        self.pool.push_back(Arc::clone(&image));
        if self.pool.len() > POOL_SIZE {
            self.pool.pop_front();
        }
        for k in first..=last {
            let time_s = if c.resample { c.tick_time(k) } else { p };
            self.pending.push_back(FrameItem::new(
                FrameRecord { index: k, time_s, ..Default::default() },
                Some(Arc::clone(&image)),
            ));
        }
        Ok(())
    }

    /// Scales and converts the decoded frame into a (reused when possible) RGB buffer.
    fn convert(&mut self) -> Result<RgbFrame, crate::Error> {
        let (w, h) = self.out_size;
        let stride = rgb_stride(w);
        let reusable = self.pool.iter().position(|a| Arc::strong_count(a) == 1 && Arc::weak_count(a) == 0);
        let mut out = reusable
            .and_then(|i| self.pool.remove(i))
            .and_then(|a| Arc::try_unwrap(a).ok())
            .filter(|f| f.width == w && f.height == h && f.stride == stride)
            .unwrap_or_else(|| RgbFrame { width: w, height: h, stride, data: vec![0; stride * h as usize] });
        self.scaler.scale(&self.decoded, &mut out).map_err(|m| self.decode_error(m))?;
        Ok(out)
    }

    /// At the end of the stream: counts the missing tail and completes the audio file.
    fn finish(&mut self) -> Result<(), crate::Error> {
        self.finished = true;
        if let Some(expected) = self.expected_frames {
            self.lost += expected.saturating_sub(self.next_index);
            // Later calls (after a seek past the end) must not count it again.
            self.next_index = self.next_index.max(expected);
        }
        if let Some(audio) = self.audio.as_mut() {
            audio.finish(&self.path)?;
        }
        Ok(())
    }

    /// Repositions the demuxer near `t` seconds (from the stream start) and flushes the video
    /// decoder. The audio decoder keeps its state: the audio packets read again are skipped
    /// (see [`AudioExtractor::replay`]).
    fn reposition(&mut self, t: f64) -> Result<(), crate::Error> {
        let abs = self.start_pts as f64 * self.time_base + t;
        // `..ts` is the inclusive upper bound (max_ts): a key frame at or before `t`.
        let ts = (abs * f64::from(ffi::AV_TIME_BASE)).floor() as i64;
        self.input.seek(ts, ..ts).map_err(|e| self.decode_error(format!("cannot seek to {t:.3} s: {e}")))?;
        self.decoder.flush();
        if let Some(a) = self.audio.as_mut() {
            a.replay();
        }
        self.eof_sent = false;
        Ok(())
    }

    /// Goes back to the start by opening the file again: the video state after `open` (the
    /// audio decoder, as in [`VideoSource::reposition`], keeps its state).
    fn rewind(&mut self) -> Result<(), crate::Error> {
        let probe = open_input(&self.path)?;
        let stream = probe.input.stream(self.video_index).expect("same file, same streams");
        let (params, tb) = (stream.parameters(), stream.time_base());
        let decoder = open_decoder(&self.path, params, tb, self.threads)?
            .video()
            .map_err(|e| self.decode_error(format!("cannot reopen the decoder: {e}")))?;
        self.input = probe.input;
        self.decoder = decoder;
        if let Some(a) = self.audio.as_mut() {
            a.replay();
        }
        self.eof_sent = false;
        self.prev = Prev::Start;
        Ok(())
    }

    /// Decodes (and discards) frames until the first key frame; its time, or `None` at the end.
    fn find_key_frame(&mut self) -> Result<Option<f64>, crate::Error> {
        while self.decode_next()? {
            if self.decoded.is_key() {
                return Ok(self.frame_time());
            }
        }
        Ok(None)
    }

    /// Fills the WAV up to `until` seconds before a seek jumps ahead, reading packets without
    /// decoding video, so a resumed run still writes the whole audio track.
    ///
    /// Reading goes on from where the demuxer is: every audio packet before that point has
    /// already been decoded (the demuxer only moves back, to a point the audio has passed),
    /// so the audio decoder gets each packet once, in file order, exactly as in a read from
    /// the start. Decoding a packet twice, or restarting the decoder, would not do: the
    /// decoder's state (e.g. AAC's noise generator) would differ from then on and so would
    /// the samples.
    fn audio_catch_up(&mut self, until: f64) -> Result<(), crate::Error> {
        let Some(audio) = self.audio.as_ref() else {
            return Ok(());
        };
        let written = audio.written_until(self.start_pts as f64 * self.time_base);
        if audio.complete || written.is_some_and(|w| w >= until) {
            return Ok(());
        }
        let video_tb = self.time_base;
        let start = self.start_pts;
        let mut errors = 0u32;
        loop {
            let mut packet = ffmpeg::Packet::empty();
            match packet.read(&mut self.input) {
                Ok(()) => {
                    errors = 0;
                    let index = packet.stream();
                    if index == self.video_index {
                        let t = packet.dts().or(packet.pts()).map(|d| (d - start) as f64 * video_tb);
                        if t.is_some_and(|t| t >= until) {
                            return Ok(());
                        }
                    } else if let Some(audio) = self.audio.as_mut().filter(|a| a.index == index) {
                        audio.packet(&packet, &self.path)?;
                    }
                }
                Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(_) => {
                    errors += 1;
                    if errors > MAX_CONSECUTIVE_ERRORS {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// Bytes per row of an RGB frame of width `w`: rows padded to whole 16-pixel groups, so
/// swscale's SIMD converters write whole blocks and rows start 16-byte aligned.
pub(crate) fn rgb_stride(w: u32) -> usize {
    (w as usize).div_ceil(16) * 16 * 3
}

impl FrameSource for VideoSource {
    fn name(&self) -> &str {
        "video_decoding"
    }

    fn info(&self) -> VideoInfo {
        self.info.clone()
    }

    fn provides(&self) -> Vec<Artifact> {
        vec![Artifact::FRAMES]
    }

    /// Seeks the demuxer to a key frame before frame `frame`'s time, flushes the decoder and
    /// decodes forward, dropping frames before `frame`; the frames that follow are exactly
    /// those a read from the start gives. When the key frame found is not early enough (a
    /// container without an index) it seeks further back, finally from the start. The audio
    /// track is completed up to a second past `frame` first (see the [module docs](self#audio)).
    fn seek(&mut self, frame: u64) -> crate::Result<()> {
        let c = self.clock;
        let target = frame as f64 / c.fps;
        self.audio_catch_up(target + 1.0)?;
        self.pending.clear();
        self.finished = false;
        let mut margin = 2.0 * c.src_frame_s;
        loop {
            let t = target - margin;
            if t <= 0.0 {
                self.rewind()?;
                break;
            }
            if let Err(e) = self.reposition(t) {
                // A container FFmpeg cannot seek in is still read correctly from the start.
                tracing::debug!(error = %e, "seek failed; decoding from the start");
                self.rewind()?;
                break;
            }
            match self.find_key_frame()? {
                // Early enough: every tick from `frame` on is served by frames decoded from
                // this key frame, with their predecessors known.
                Some(p) if p <= target - 0.5 * c.src_frame_s => {
                    self.prev = Prev::At(p);
                    break;
                }
                _ => margin *= 4.0,
            }
        }
        self.next_index = frame;
        self.last_emitted = None;
        // Frames lost before `frame` were reported by whoever read them.
        self.lost = 0;
        Ok(())
    }

    fn next_frame(&mut self) -> crate::Result<Option<FrameItem>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Ok(Some(item));
            }
            if self.finished {
                return Ok(None);
            }
            if self.decode_next()? {
                self.on_frame()?;
            } else {
                self.finish()?;
            }
        }
    }

    fn frames_lost(&self) -> u64 {
        self.lost
    }

    fn side_outputs(&self) -> Vec<PathBuf> {
        self.audio.iter().map(|a| a.wav.path.clone()).collect()
    }
}

/// A swscale context converting decoded frames to RGB24 at the output size.
pub(crate) struct Scaler {
    ctx: *mut ffi::SwsContext,
    /// Source width, height, pixel format, colour space and range the context is set for.
    key: Option<(i32, i32, i32, i32, i32)>,
}

// SAFETY: the SwsContext is owned by one `Scaler` and only used through `&mut self`; swscale
// contexts have no thread affinity.
unsafe impl Send for Scaler {}

impl Scaler {
    pub(crate) fn new() -> Self {
        Scaler { ctx: std::ptr::null_mut(), key: None }
    }

    pub(crate) fn scale(&mut self, frame: &ffmpeg::frame::Video, out: &mut RgbFrame) -> Result<(), String> {
        // SAFETY: `frame` is a decoded frame (valid data/linesize for its format and size);
        // `out.data` holds `out.stride * out.height` bytes, and rows of `out.stride` bytes
        // have room for whole 16-pixel blocks of RGB24.
        unsafe {
            let f = &*frame.as_ptr();
            let (mut fmt, mut full_range) = (f.format, f.color_range == ffi::AVColorRange::AVCOL_RANGE_JPEG);
            // The deprecated "J" formats are their plain twins at full range (what the
            // ffmpeg CLI's scale filter does too).
            if let Some(plain) = unjpeg(fmt) {
                fmt = plain;
                full_range = true;
            }
            let key = (f.width, f.height, fmt, f.colorspace as i32, i32::from(full_range));
            if self.key != Some(key) || self.ctx.is_null() {
                let src_fmt: ffi::AVPixelFormat = std::mem::transmute(fmt);
                self.ctx = ffi::sws_getCachedContext(
                    self.ctx,
                    f.width,
                    f.height,
                    src_fmt,
                    out.width as i32,
                    out.height as i32,
                    ffi::AVPixelFormat::AV_PIX_FMT_RGB24,
                    // Bilinear: the usual choice for detector input. Unused when only the
                    // format changes (swscale's unscaled converters run then).
                    ffi::SWS_BILINEAR,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null(),
                );
                if self.ctx.is_null() {
                    self.key = None;
                    return Err(format!(
                        "expected a pixel format swscale converts to RGB24, found {:?} at {}x{}",
                        ffmpeg::format::Pixel::from(src_fmt),
                        f.width,
                        f.height
                    ));
                }
                // Use the stream's colour matrix and range (BT.709 for HD, limited range
                // unless tagged full), as the ffmpeg CLI does.
                let inv_table = ffi::sws_getCoefficients(f.colorspace as i32);
                let table = ffi::sws_getCoefficients(ffi::SWS_CS_DEFAULT);
                ffi::sws_setColorspaceDetails(
                    self.ctx,
                    inv_table,
                    i32::from(full_range),
                    table,
                    1,
                    0,
                    1 << 16,
                    1 << 16,
                );
                self.key = Some(key);
            }
            let dst = [out.data.as_mut_ptr(), std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut()];
            let dst_stride = [out.stride as i32, 0, 0, 0];
            let rows = ffi::sws_scale(
                self.ctx,
                f.data.as_ptr() as *const *const u8,
                f.linesize.as_ptr(),
                0,
                f.height,
                dst.as_ptr(),
                dst_stride.as_ptr(),
            );
            if rows < 0 {
                return Err(format!("swscale failed with code {rows}"));
            }
        }
        Ok(())
    }
}

impl Drop for Scaler {
    fn drop(&mut self) {
        if !self.ctx.is_null() {
            // SAFETY: the context was allocated by swscale and is freed once.
            unsafe { ffi::sws_freeContext(self.ctx) };
        }
    }
}

/// The non-"J" twin of a full-range JPEG pixel format.
fn unjpeg(fmt: i32) -> Option<i32> {
    use ffi::AVPixelFormat::*;
    let pairs = [
        (AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUV420P),
        (AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUV422P),
        (AV_PIX_FMT_YUVJ444P, AV_PIX_FMT_YUV444P),
        (AV_PIX_FMT_YUVJ440P, AV_PIX_FMT_YUV440P),
        (AV_PIX_FMT_YUVJ411P, AV_PIX_FMT_YUV411P),
    ];
    pairs.iter().find(|(j, _)| *j as i32 == fmt).map(|(_, p)| *p as i32)
}

/// Decodes the first audio stream and writes it as 16-bit PCM WAV.
struct AudioExtractor {
    index: usize,
    decoder: ffmpeg::decoder::Audio,
    time_base: f64,
    /// Output sample rate and channel count (the stream's own).
    rate: u32,
    channels: u16,
    resampler: Option<Resampler>,
    frame: ffmpeg::frame::Audio,
    buf: Vec<u8>,
    wav: WavWriter,
    /// Samples (per channel) written so far.
    written: u64,
    /// Timestamp (stream ticks) of the WAV's first sample.
    origin: Option<i64>,
    /// The whole stream has been written.
    complete: bool,
    /// Timestamp (DTS, else PTS; stream ticks) of the last packet handed to the decoder.
    last_packet: Option<i64>,
    /// The demuxer was moved back: packets up to `last_packet` come again and are skipped.
    replaying: bool,
}

/// A resampler and the input layout it was made for.
struct Resampler {
    ctx: ffmpeg::software::resampling::Context,
    input: (ffmpeg::format::Sample, u64, u32),
}

impl AudioExtractor {
    fn new(
        input: &ffmpeg::format::context::Input,
        index: usize,
        video: &Path,
        dir: &Path,
        threads: usize,
    ) -> Result<Self, crate::Error> {
        let stream = input.stream(index).expect("index from best()");
        let params = stream.parameters();
        let tb = stream.time_base();
        let audio_err = |message: String| VideoError::Audio { path: video.to_path_buf(), message };
        let decoder = open_decoder(video, params, tb, threads)
            .and_then(|d| {
                d.audio().map_err(|e| VideoError::Decode {
                    path: video.to_path_buf(),
                    message: format!("audio decoder: {e}"),
                })
            })
            .map_err(|e| audio_err(e.to_string()))?;
        let (rate, channels) = (decoder.rate(), decoder.channels());
        if rate == 0 || channels == 0 {
            return Err(audio_err(format!(
                "expected an audio stream with a sample rate and channels, found {rate} Hz, {channels} channels"
            ))
            .into());
        }
        std::fs::create_dir_all(dir).map_err(|e| VideoError::Io { path: dir.to_path_buf(), source: e })?;
        let path = dir.join("audio.wav");
        let wav =
            WavWriter::create(&path, channels, rate).map_err(|e| VideoError::Io { path: path.clone(), source: e })?;
        Ok(AudioExtractor {
            index,
            decoder,
            time_base: f64::from(tb),
            rate,
            channels,
            resampler: None,
            frame: ffmpeg::frame::Audio::empty(),
            buf: Vec::new(),
            wav,
            written: 0,
            origin: None,
            complete: false,
            last_packet: None,
            replaying: false,
        })
    }

    /// Time up to which the WAV is written, in seconds from `video_start` (the video
    /// stream's start, seconds); `None` while nothing is written.
    fn written_until(&self, video_start: f64) -> Option<f64> {
        let origin = self.origin?;
        Some(origin as f64 * self.time_base + self.written as f64 / f64::from(self.rate) - video_start)
    }

    /// The demuxer was moved back (seek, rewind): the packets it reads again, up to the last
    /// one already decoded, must not reach the decoder a second time.
    fn replay(&mut self) {
        self.replaying = self.last_packet.is_some();
    }

    fn packet(&mut self, packet: &ffmpeg::Packet, video: &Path) -> Result<(), crate::Error> {
        if self.complete {
            return Ok(());
        }
        let ts = packet.dts().or(packet.pts());
        if self.replaying {
            // Audio packets are in timestamp order: the first one after the last decoded
            // packet ends the replay. One without a timestamp cannot be placed; it is skipped.
            match (ts, self.last_packet) {
                (Some(t), Some(last)) if t > last => self.replaying = false,
                _ => return Ok(()),
            }
        }
        if ts.is_some() {
            self.last_packet = ts;
        }
        if let Err(e) = self.decoder.send_packet(packet) {
            // Damaged audio: skip the packet; the gap is filled with silence.
            tracing::debug!(error = %e, "audio packet rejected");
            return Ok(());
        }
        self.drain(video)
    }

    fn drain(&mut self, video: &Path) -> Result<(), crate::Error> {
        loop {
            match self.decoder.receive_frame(&mut self.frame) {
                Ok(()) => self.write_frame(video)?,
                Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(e) if is_eagain(&e) => return Ok(()),
                Err(e) => tracing::debug!(error = %e, "audio decode error"),
            }
        }
    }

    fn write_frame(&mut self, video: &Path) -> Result<(), crate::Error> {
        let audio_err = |message: String| VideoError::Audio { path: video.to_path_buf(), message };
        let samples = self.frame.samples();
        if samples == 0 {
            return Ok(());
        }
        let fmt = self.frame.format();
        let channels = self.frame.channels();
        let mut layout = self.frame.channel_layout();
        if layout.is_empty() || layout.channels() != i32::from(channels) {
            layout = ffmpeg::ChannelLayout::default(i32::from(channels));
        }
        let rate = self.frame.rate();
        let key = (fmt, layout.bits(), rate);
        if self.resampler.as_ref().is_none_or(|r| r.input != key) {
            let out_layout = ffmpeg::ChannelLayout::default(i32::from(self.channels));
            let ctx = ffmpeg::software::resampling::Context::get(
                fmt,
                layout,
                rate,
                ffmpeg::format::Sample::I16(ffmpeg::format::sample::Type::Packed),
                out_layout,
                self.rate,
            )
            .map_err(|e| {
                audio_err(format!("expected audio swresample converts, found {fmt:?} {channels} ch at {rate} Hz ({e})"))
            })?;
            self.resampler = Some(Resampler { ctx, input: key });
        }
        let pos = self.frame.pts().or_else(|| self.frame.timestamp());
        let got = self.convert(samples)?;
        self.place(pos, got)
    }

    /// Runs swresample on the current frame (or flushes it with `samples == 0`); the output
    /// is in `self.buf`. Returns the number of samples per channel.
    fn convert(&mut self, samples: usize) -> Result<usize, crate::Error> {
        let Some(r) = self.resampler.as_mut() else {
            return Ok(0);
        };
        let frame_bytes = usize::from(self.channels) * 2;
        // SAFETY: the resampler is initialised; the output buffer holds `cap` samples of
        // packed s16 in `self.channels` channels; the input pointers are the decoded frame's
        // planes holding `samples` samples (or null when flushing).
        unsafe {
            let swr = r.ctx.as_mut_ptr();
            let cap = ffi::swr_get_out_samples(swr, samples as i32).max(0) as usize + 32;
            self.buf.resize(cap * frame_bytes, 0);
            let mut out = self.buf.as_mut_ptr();
            let input = if samples == 0 {
                std::ptr::null_mut()
            } else {
                (*self.frame.as_ptr()).extended_data as *mut *const u8
            };
            let got = ffi::swr_convert(swr, &mut out, cap as i32, input, samples as i32);
            if got < 0 {
                return Err(VideoError::Audio {
                    path: self.wav.path.clone(),
                    message: format!("swresample failed with code {got}"),
                }
                .into());
            }
            self.buf.truncate(got as usize * frame_bytes);
            Ok(got as usize)
        }
    }

    /// Writes the converted samples at their place on the timeline: overlap with what is
    /// already written (audio decoded again after a seek) is cut, a gap gets silence.
    fn place(&mut self, pts: Option<i64>, n: usize) -> Result<(), crate::Error> {
        if n == 0 {
            return Ok(());
        }
        let frame_bytes = usize::from(self.channels) * 2;
        let mut skip = 0usize;
        if let Some(pts) = pts {
            let origin = *self.origin.get_or_insert(pts);
            let pos = ((pts - origin) as f64 * self.time_base * f64::from(self.rate)).round() as i64;
            let written = self.written as i64;
            // Timestamps jitter by a few samples; only a real overlap or gap (over 10 ms)
            // moves the samples.
            let tolerance = i64::from(self.rate / 100);
            if pos + (n as i64) <= written {
                return Ok(());
            } else if pos + tolerance < written {
                skip = (written - pos) as usize;
            } else if pos > written + tolerance {
                let silence = vec![0u8; (pos - written) as usize * frame_bytes];
                self.write(&silence)?;
            }
        }
        let data = std::mem::take(&mut self.buf);
        let result = self.write(&data[skip * frame_bytes..]);
        self.buf = data;
        result
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), crate::Error> {
        let frame_bytes = u64::from(self.channels) * 2;
        self.wav.write(bytes).map_err(|e| VideoError::Io { path: self.wav.path.clone(), source: e })?;
        self.written += bytes.len() as u64 / frame_bytes;
        Ok(())
    }

    /// Drains the decoder and resampler and completes the WAV header.
    fn finish(&mut self, video: &Path) -> Result<(), crate::Error> {
        if self.complete {
            return Ok(());
        }
        if self.decoder.send_eof().is_ok() {
            self.drain(video)?;
        }
        loop {
            let got = self.convert(0)?;
            if got == 0 {
                break;
            }
            self.place(None, got)?;
        }
        self.complete = true;
        self.wav.finalize().map_err(|e| VideoError::Io { path: self.wav.path.clone(), source: e })?;
        Ok(())
    }
}

/// A 16-bit PCM WAV file whose sizes are filled in when it is finalised.
struct WavWriter {
    path: PathBuf,
    file: BufWriter<File>,
    data_bytes: u64,
    finalized: bool,
}

/// Bytes of the canonical 44-byte header before the samples.
const WAV_HEADER_BYTES: u64 = 44;

impl WavWriter {
    fn create(path: &Path, channels: u16, rate: u32) -> std::io::Result<Self> {
        let mut file = BufWriter::with_capacity(1 << 16, File::create(path)?);
        let block_align = channels * 2;
        let mut h = Vec::with_capacity(WAV_HEADER_BYTES as usize);
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&0u32.to_le_bytes()); // RIFF size, set by `finalize`
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes()); // PCM
        h.extend_from_slice(&channels.to_le_bytes());
        h.extend_from_slice(&rate.to_le_bytes());
        h.extend_from_slice(&(rate * u32::from(block_align)).to_le_bytes());
        h.extend_from_slice(&block_align.to_le_bytes());
        h.extend_from_slice(&16u16.to_le_bytes());
        h.extend_from_slice(b"data");
        h.extend_from_slice(&0u32.to_le_bytes()); // data size, set by `finalize`
        file.write_all(&h)?;
        Ok(WavWriter { path: path.to_path_buf(), file, data_bytes: 0, finalized: false })
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        // A RIFF file cannot describe more than 4 GiB (over 6 hours of 48 kHz stereo);
        // later samples are dropped rather than writing a file readers reject.
        let room = (u64::from(u32::MAX) - WAV_HEADER_BYTES).saturating_sub(self.data_bytes);
        let n = (bytes.len() as u64).min(room) as usize;
        if n < bytes.len() {
            tracing::warn!(path = %self.path.display(), "audio longer than a WAV file can hold; truncated");
        }
        self.file.write_all(&bytes[..n])?;
        self.data_bytes += n as u64;
        Ok(())
    }

    fn finalize(&mut self) -> std::io::Result<()> {
        self.finalized = true;
        let data = self.data_bytes as u32;
        self.file.seek(SeekFrom::Start(4))?;
        self.file.write_all(&(data + 36).to_le_bytes())?;
        self.file.seek(SeekFrom::Start(40))?;
        self.file.write_all(&data.to_le_bytes())?;
        self.file.seek(SeekFrom::End(0))?;
        self.file.flush()
    }
}

impl Drop for WavWriter {
    fn drop(&mut self) {
        if !self.finalized {
            // A source dropped before the end still leaves a valid WAV of what was read.
            let _ = self.finalize();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    /// Runs the ffmpeg CLI (needed to generate fixtures) and fails the test on error.
    fn ffmpeg(args: &[&str]) -> Vec<u8> {
        let out = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
            .args(args)
            .output()
            .expect("the ffmpeg CLI generates the test fixtures; install it (apt-get install ffmpeg)");
        assert!(out.status.success(), "ffmpeg {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    /// 2 s of a 320x240 moving test pattern at 25 fps (50 frames, a key frame every 10)
    /// with a 440 Hz mono tone, in `name` (the extension picks the container).
    fn clip(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
        clip_of(dir, name, 2, 10, extra)
    }

    /// Like [`clip`], `secs` seconds long with a key frame every `gop` frames.
    fn clip_of(dir: &Path, name: &str, secs: u32, gop: u32, extra: &[&str]) -> PathBuf {
        let path = dir.join(name);
        let p = path.to_str().unwrap();
        let (secs, gop) = (secs.to_string(), gop.to_string());
        let mut args = vec![
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            &secs,
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-g",
            &gop,
            "-c:a",
            "aac",
        ];
        args.extend_from_slice(extra);
        args.push(p);
        ffmpeg(&args);
        path
    }

    fn cfg(target_fps: Option<f64>, target_resolution: Option<[u32; 2]>) -> VideoDecodingConfig {
        VideoDecodingConfig { target_fps, target_resolution, ..Default::default() }
    }

    fn open(path: &Path, cfg: &VideoDecodingConfig) -> VideoSource {
        VideoSource::open(path, cfg, None).unwrap()
    }

    fn read_all(src: &mut VideoSource) -> Vec<FrameItem> {
        std::iter::from_fn(|| src.next_frame().unwrap()).collect()
    }

    /// The pixels without row padding.
    fn packed(f: &RgbFrame) -> Vec<u8> {
        let row = f.width as usize * 3;
        f.data.chunks(f.stride).take(f.height as usize).flat_map(|r| &r[..row]).copied().collect()
    }

    /// Every frame as the ffmpeg CLI decodes it to RGB24 (`vf`: an extra filter).
    fn cli_frames(path: &Path, w: u32, h: u32, vf: Option<&str>) -> Vec<Vec<u8>> {
        let mut args = vec!["-i", path.to_str().unwrap(), "-fps_mode", "passthrough"];
        if let Some(vf) = vf {
            args.extend(["-vf", vf]);
        }
        args.extend(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]);
        let raw = ffmpeg(&args);
        let size = (w * h * 3) as usize;
        assert_eq!(raw.len() % size, 0);
        raw.chunks(size).map(<[u8]>::to_vec).collect()
    }

    fn video_error(e: crate::Error) -> VideoError {
        match e {
            crate::Error::Video(v) => v,
            other => panic!("expected a video error, found {other:?}"),
        }
    }

    fn open_err(path: &Path, cfg: &VideoDecodingConfig, audio: Option<&Path>) -> VideoError {
        match VideoSource::open(path, cfg, audio) {
            Ok(_) => panic!("{} opened", path.display()),
            Err(e) => video_error(e),
        }
    }

    #[test]
    fn fit_within_keeps_aspect_and_never_upscales() {
        assert_eq!(fit_within((320, 240), [160, 160]), (160, 120));
        assert_eq!(fit_within((1920, 1080), [1280, 720]), (1280, 720));
        assert_eq!(fit_within((1920, 1080), [640, 640]), (640, 360));
        assert_eq!(fit_within((1440, 1080), [640, 640]), (640, 480));
        assert_eq!(fit_within((320, 240), [1920, 1080]), (320, 240));
        assert_eq!(fit_within((1920, 1080), [1001, 1001]), (1000, 562));
    }

    #[test]
    fn metadata_frames_and_pixels_match_the_cli() {
        let dir = tempfile::tempdir().unwrap();
        let path = clip(dir.path(), "clip.mp4", &[]);
        let mut src = open(&path, &cfg(None, None));
        let info = src.info();
        assert_eq!((info.width, info.height, info.codec.as_str()), (320, 240, "h264"));
        assert!((info.fps - 25.0).abs() < 1e-9, "{}", info.fps);
        assert_eq!(info.frame_count, Some(50));
        assert!((info.duration_s.unwrap() - 2.0).abs() < 0.05, "{:?}", info.duration_s);
        assert_eq!(src.name(), "video_decoding");
        assert_eq!(src.provides(), vec![Artifact::FRAMES]);

        let frames = read_all(&mut src);
        assert_eq!(frames.len(), 50);
        assert_eq!(src.frames_lost(), 0);
        let cli = cli_frames(&path, 320, 240, None);
        assert_eq!(cli.len(), 50);
        for (n, (item, expected)) in frames.iter().zip(&cli).enumerate() {
            assert_eq!(item.record.index, n as u64);
            assert!((item.record.time_s - n as f64 / 25.0).abs() < 1e-6, "{}", item.record.time_s);
            let img = item.image.as_ref().unwrap();
            assert_eq!((img.width, img.height), (320, 240));
            assert!(img.stride >= 320 * 3);
            // Same size: the same swscale conversion as the CLI, bit for bit.
            assert!(packed(img) == *expected, "frame {n} differs from the ffmpeg CLI's");
        }
    }

    #[test]
    fn target_fps_picks_the_first_frame_at_or_after_each_tick() {
        let dir = tempfile::tempdir().unwrap();
        let path = clip(dir.path(), "clip.mp4", &[]);
        let mut src = open(&path, &cfg(Some(10.0), None));
        assert_eq!(src.info().fps, 10.0);
        assert_eq!(src.info().frame_count, Some(20));
        let frames = read_all(&mut src);
        assert_eq!(src.frames_lost(), 0);
        let indices: Vec<u64> = frames.iter().map(|f| f.record.index).collect();
        assert_eq!(indices, (0..20).collect::<Vec<_>>());
        let cli = cli_frames(&path, 320, 240, None);
        for (k, f) in frames.iter().enumerate() {
            assert_eq!(f.record.time_s, k as f64 / 10.0);
            // Source frame n is at n / 25 s: the first at or after k / 10 s is ceil(2.5 k).
            let n = (k as f64 * 2.5).ceil() as usize;
            assert!(packed(f.image.as_ref().unwrap()) == cli[n], "output {k} is not source frame {n}");
        }
    }

    #[test]
    fn target_fps_above_the_source_rate_repeats_frames() {
        let dir = tempfile::tempdir().unwrap();
        let path = clip(dir.path(), "clip.mp4", &[]);
        let mut src = open(&path, &cfg(Some(50.0), None));
        let frames = read_all(&mut src);
        assert_eq!(src.frames_lost(), 0);
        assert_eq!(frames.len(), 99, "ticks 0..=98 (the last frame is at 1.96 s)");
        for (k, f) in frames.iter().enumerate() {
            assert_eq!(f.record.index, k as u64);
            // Tick k (k / 50 s) is served by source frame ceil(k / 2).
            let owner = &frames[k.div_ceil(2) * 2];
            assert!(Arc::ptr_eq(f.image.as_ref().unwrap(), owner.image.as_ref().unwrap()));
        }
    }

    #[test]
    fn target_resolution_scales_straight_to_the_fitted_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = clip(dir.path(), "clip.mp4", &[]);
        let mut src = open(&path, &cfg(None, Some([160, 160])));
        assert_eq!((src.info().width, src.info().height), (160, 120));
        let frames = read_all(&mut src);
        assert_eq!(frames.len(), 50);
        let cli = cli_frames(&path, 160, 120, Some("scale=160:120:flags=bilinear"));
        for (f, expected) in frames.iter().zip(&cli) {
            let img = f.image.as_ref().unwrap();
            assert_eq!((img.width, img.height), (160, 120));
            // Scaled in one call instead of the CLI's scale-then-convert: small rounding
            // differences only.
            let ours = packed(img);
            let mean = ours.iter().zip(expected).map(|(a, b)| a.abs_diff(*b) as f64).sum::<f64>() / ours.len() as f64;
            assert!(mean < 3.0, "mean difference {mean}");
        }
        // No upscaling: a box larger than the source keeps the source size.
        let src = open(&path, &cfg(None, Some([1920, 1080])));
        assert_eq!((src.info().width, src.info().height), (320, 240));
    }

    fn assert_same(a: &[FrameItem], b: &[FrameItem]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert_eq!(x.record.index, y.record.index);
            assert_eq!(x.record.time_s, y.record.time_s);
            assert!(x.image.as_ref().unwrap().data == y.image.as_ref().unwrap().data, "frame {}", x.record.index);
        }
    }

    fn check_seeks(path: &Path, cfg: &VideoDecodingConfig, targets: &[u64]) {
        let all = read_all(&mut open(path, cfg));
        for &k in targets {
            let mut src = open(path, cfg);
            src.seek(k).unwrap();
            let rest = read_all(&mut src);
            let expected: Vec<FrameItem> = all.iter().filter(|f| f.record.index >= k).cloned().collect();
            assert_same(&rest, &expected);
        }
        // Seeking an already used source, backwards and forwards.
        let mut src = open(path, cfg);
        for _ in 0..7 {
            src.next_frame().unwrap();
        }
        for &k in targets.iter().rev() {
            src.seek(k).unwrap();
            let got: Vec<FrameItem> = (0..3).filter_map(|_| src.next_frame().unwrap()).collect();
            let expected: Vec<FrameItem> = all.iter().filter(|f| f.record.index >= k).take(3).cloned().collect();
            assert_same(&got, &expected);
        }
    }

    #[test]
    fn seek_then_read_equals_reading_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let mp4 = clip(dir.path(), "clip.mp4", &[]);
        check_seeks(&mp4, &cfg(None, None), &[0, 1, 9, 10, 11, 23, 37, 49, 50, 80]);
        check_seeks(&mp4, &cfg(Some(10.0), Some([160, 160])), &[0, 3, 4, 5, 13, 19, 20]);
        // MPEG-TS has no index: seeking goes through FFmpeg's timestamp search.
        let ts = clip(dir.path(), "clip.ts", &[]);
        check_seeks(&ts, &cfg(None, None), &[0, 5, 10, 21, 30, 44, 49, 60]);
        check_seeks(&ts, &cfg(Some(12.5), None), &[0, 7, 15, 24]);
    }

    /// Header fields of a canonical WAV and its samples.
    fn read_wav(path: &Path) -> (u16, u32, u16, Vec<i16>) {
        let b = std::fs::read(path).unwrap();
        assert_eq!(&b[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize, b.len() - 8);
        assert_eq!(&b[8..16], b"WAVEfmt ");
        assert_eq!(u16::from_le_bytes([b[20], b[21]]), 1, "PCM");
        let channels = u16::from_le_bytes([b[22], b[23]]);
        let rate = u32::from_le_bytes(b[24..28].try_into().unwrap());
        assert_eq!(u32::from_le_bytes(b[28..32].try_into().unwrap()), rate * u32::from(channels) * 2);
        assert_eq!(u16::from_le_bytes([b[32], b[33]]), channels * 2);
        let bits = u16::from_le_bytes([b[34], b[35]]);
        assert_eq!(&b[36..40], b"data");
        assert_eq!(u32::from_le_bytes(b[40..44].try_into().unwrap()) as usize, b.len() - 44);
        let samples = b[44..].chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
        (channels, rate, bits, samples)
    }

    #[test]
    fn extract_audio_writes_the_audio_track_as_wav_in_the_same_pass() {
        let dir = tempfile::tempdir().unwrap();
        let path = clip(dir.path(), "clip.mp4", &[]);
        let out = dir.path().join("out");
        let c = VideoDecodingConfig { extract_audio: true, ..Default::default() };
        let mut src = VideoSource::open(&path, &c, Some(&out)).unwrap();
        assert_eq!(read_all(&mut src).len(), 50);
        let wav = out.join("audio.wav");
        assert_eq!(src.side_outputs(), vec![wav.clone()]);
        let (channels, rate, bits, samples) = read_wav(&wav);
        assert_eq!((channels, rate, bits), (1, 48000, 16));
        assert!((samples.len() as f64 - 2.0 * 48000.0).abs() < 2048.0, "{} samples", samples.len());
        // A 440 Hz tone crosses zero upwards 440 times a second.
        let ups = samples.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count() as f64;
        let expected = 440.0 * samples.len() as f64 / 48000.0;
        assert!((ups - expected).abs() < 3.0, "{ups} upward zero crossings, expected {expected}");
        // The CLI's decode of the same track.
        let cli = ffmpeg(&["-i", path.to_str().unwrap(), "-vn", "-f", "s16le", "-c:a", "pcm_s16le", "-"]);
        let cli: Vec<i16> = cli.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
        assert_eq!(samples.len(), cli.len());
        let max_diff = samples.iter().zip(&cli).map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs()).max().unwrap();
        assert!(max_diff <= 1, "max sample difference {max_diff}");

        // A resumed run (seek) still writes the whole track, identically.
        let out2 = dir.path().join("out2");
        let mut src = VideoSource::open(&path, &c, Some(&out2)).unwrap();
        src.seek(30).unwrap();
        assert_eq!(read_all(&mut src).len(), 20);
        assert!(std::fs::read(out2.join("audio.wav")).unwrap() == std::fs::read(&wav).unwrap());
    }

    /// A resumed run: an earlier run into the same directory was interrupted (its WAV left
    /// behind, partial or whole); the resumed one opens the video again, seeks and reads to
    /// the end. Its WAV must be the uninterrupted run's, byte for byte, whatever the seek
    /// point: the audio before it comes from a packet-only pass, the rest from the main pass,
    /// and where they join the audio decoder must be in the state a read from the start
    /// leaves it in (AAC's noise substitution draws from a generator the decoder keeps).
    #[test]
    fn resumed_runs_write_the_uninterrupted_runs_audio_whatever_the_seek_point() {
        let dir = tempfile::tempdir().unwrap();
        let path = clip_of(dir.path(), "clip.mp4", 6, 25, &[]);
        for c in [
            VideoDecodingConfig { target_fps: Some(10.0), extract_audio: true, ..Default::default() },
            VideoDecodingConfig { extract_audio: true, ..Default::default() },
        ] {
            let ticks = (6.0 * c.target_fps.unwrap_or(25.0)) as u64;
            let clean_dir = dir.path().join("clean");
            let mut src = VideoSource::open(&path, &c, Some(&clean_dir)).unwrap();
            assert_eq!(read_all(&mut src).len() as u64, ticks);
            drop(src);
            let clean = std::fs::read(clean_dir.join("audio.wav")).unwrap();
            assert!(clean.len() > 44 + 5 * 48_000 * 2, "{} bytes", clean.len());

            let seeks = [1, ticks / 10, ticks / 4, ticks / 2 + 2, ticks / 2 + 3, ticks * 3 / 4, ticks - 5, ticks - 1];
            for (i, &k) in seeks.iter().enumerate() {
                let out = dir.path().join(format!("resumed-{:?}-{k}", c.target_fps));
                // The interrupted run: it stopped a little after `k`, or (its source having
                // read ahead of the failing stage) at the end; its WAV stays behind.
                let mut interrupted = VideoSource::open(&path, &c, Some(&out)).unwrap();
                let stop = if i % 2 == 0 { k + 13 } else { u64::MAX };
                while interrupted.next_frame().unwrap().is_some_and(|f| f.record.index < stop) {}
                drop(interrupted);
                assert!(std::fs::metadata(out.join("audio.wav")).unwrap().len() > 44);

                let mut src = VideoSource::open(&path, &c, Some(&out)).unwrap();
                src.seek(k).unwrap();
                let frames = read_all(&mut src);
                assert_eq!(frames.first().map(|f| f.record.index), Some(k));
                assert_eq!(frames.len() as u64, ticks - k);
                drop(src);
                let resumed = std::fs::read(out.join("audio.wav")).unwrap();
                assert_eq!(resumed.len(), clean.len(), "seek to {k}: WAV size");
                let first_diff = clean.iter().zip(&resumed).position(|(a, b)| a != b);
                assert_eq!(first_diff, None, "seek to {k} ({:?} fps): WAVs differ", c.target_fps);
            }

            // A source seeked more than once, backwards and forwards, still writes the track
            // once, identically.
            for (read_first, seeks) in [(40, vec![12]), (0, vec![ticks - 10, 10]), (5, vec![ticks / 2, ticks / 3])] {
                let out = dir.path().join(format!("reseek-{:?}-{read_first}", c.target_fps));
                let mut src = VideoSource::open(&path, &c, Some(&out)).unwrap();
                for _ in 0..read_first {
                    src.next_frame().unwrap();
                }
                for &k in &seeks {
                    src.seek(k).unwrap();
                    assert_eq!(src.next_frame().unwrap().map(|f| f.record.index), Some(k));
                }
                read_all(&mut src);
                drop(src);
                assert!(std::fs::read(out.join("audio.wav")).unwrap() == clean, "{read_first} frames, seeks {seeks:?}");
            }
        }
    }

    #[test]
    fn extract_audio_without_an_audio_stream_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = clip(dir.path(), "silent.mp4", &["-an"]);
        let out = dir.path().join("out");
        let c = VideoDecodingConfig { extract_audio: true, ..Default::default() };
        let mut src = VideoSource::open(&path, &c, Some(&out)).unwrap();
        assert_eq!(read_all(&mut src).len(), 50);
        assert!(src.side_outputs().is_empty());
        assert!(!out.join("audio.wav").exists());
        // Extracting needs somewhere to write.
        let with_audio = clip(dir.path(), "clip.mp4", &[]);
        assert!(matches!(open_err(&with_audio, &c, None), VideoError::Audio { .. }));
    }

    #[test]
    fn bad_inputs_give_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let c = cfg(None, None);
        let missing = dir.path().join("missing.mp4");
        assert!(matches!(open_err(&missing, &c, None), VideoError::NotFound(p) if p == missing));

        for name in ["notes.txt", "notes.mp4", "notes.bin"] {
            let text = dir.path().join(name);
            std::fs::write(&text, "frame,id,x,y\n1,-1,10,20\nthis is not a video\n".repeat(50)).unwrap();
            let e = open_err(&text, &c, None);
            assert!(matches!(e, VideoError::NotAMediaFile { .. }), "{name}: {e}");
        }

        let audio = dir.path().join("tone.m4a");
        ffmpeg(&["-f", "lavfi", "-i", "sine=frequency=440", "-t", "1", "-c:a", "aac", audio.to_str().unwrap()]);
        let e = open_err(&audio, &c, None);
        assert!(matches!(&e, VideoError::NoVideoStream { found, .. } if found.contains("audio (aac)")), "{e}");

        // An AVI whose video FourCC no decoder knows.
        let avi = dir.path().join("unknown.avi");
        ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=5", "-t", "1", "-c:v", "mpeg4", avi.to_str().unwrap()]);
        let mut bytes = std::fs::read(&avi).unwrap();
        let mut i = 0;
        while let Some(at) = bytes[i..].windows(4).position(|w| w == b"FMP4") {
            bytes[i + at..i + at + 4].copy_from_slice(b"QQQQ");
            i += at + 4;
        }
        std::fs::write(&avi, &bytes).unwrap();
        let e = open_err(&avi, &c, None);
        assert!(matches!(e, VideoError::UnsupportedCodec { .. }), "{e}");
    }

    /// Overwrites `bytes[from..to]` (fractions of the length) with pseudo-random garbage
    /// drawn from `seed`.
    fn damage(path: &Path, from: f64, to: f64, seed: u64) {
        let mut b = std::fs::read(path).unwrap();
        let (a, z) = ((b.len() as f64 * from) as usize, (b.len() as f64 * to) as usize);
        let mut x = 0x2545_f491_4f6c_dd1du64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for byte in &mut b[a..z] {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *byte = x as u8;
        }
        std::fs::write(path, b).unwrap();
    }

    fn cut(path: &Path, keep: f64) {
        let b = std::fs::read(path).unwrap();
        std::fs::write(path, &b[..(b.len() as f64 * keep) as usize]).unwrap();
    }

    fn assert_increasing(frames: &[FrameItem]) {
        assert!(frames.windows(2).all(|w| w[0].record.index < w[1].record.index));
    }

    #[test]
    fn damaged_mpeg_ts_decodes_what_it_can_and_counts_the_loss() {
        let dir = tempfile::tempdir().unwrap();
        let ts = clip(dir.path(), "clip.ts", &["-an"]);
        damage(&ts, 0.35, 0.6, 0);
        let mut src = open(&ts, &cfg(None, None));
        let frames = read_all(&mut src);
        assert_increasing(&frames);
        let (decoded, lost) = (frames.len() as u64, src.frames_lost());
        assert!(decoded >= 15 && lost >= 5, "{decoded} decoded, {lost} lost");
        // The indices keep the timeline: the gaps in them are the frames counted lost.
        let gaps: u64 = frames.windows(2).map(|w| w[1].record.index - w[0].record.index - 1).sum();
        assert_eq!(frames[0].record.index, 0);
        assert_eq!(frames.last().unwrap().record.index, 49);
        assert_eq!(gaps, lost);
        assert_eq!(decoded + lost, 50);
    }

    /// Every frame (or tick) of a damaged file is either returned or counted lost, once:
    /// `decoded + lost` is the true count, wherever the damage is. Damage makes the decoder
    /// deliver frames late, out of order, with another frame's timestamp; a frame whose slot
    /// has passed must not be renumbered into a later slot (that counted it twice and
    /// shifted every later index). A lost last frame counts too: an MPEG-TS duration
    /// measured from its timestamps gives the exact frame count.
    #[test]
    fn damaged_files_decode_what_they_can_and_every_frame_is_decoded_or_lost() {
        let dir = tempfile::tempdir().unwrap();
        // (from, to) as fractions of the file; up to 0.95 keeps the end readable, so the
        // duration of an MPEG-TS (measured at its end) is still known.
        let spots =
            [(0.1, 0.2), (0.2, 0.25), (0.33, 0.34), (0.3, 0.5), (0.4, 0.6), (0.5, 0.52), (0.6, 0.9), (0.05, 0.95)];
        for ext in ["ts", "mp4"] {
            let good = clip_of(dir.path(), &format!("good.{ext}"), 4, 25, &[]);
            for (n, &(from, to)) in spots.iter().enumerate() {
                for seed in [n as u64, 1000 + n as u64] {
                    let bad = dir.path().join(format!("bad.{ext}"));
                    std::fs::copy(&good, &bad).unwrap();
                    damage(&bad, from, to, seed);
                    let case = format!("{ext} damaged over {from}..{to} (seed {seed})");
                    // Native rate, below it, above it (repeated frames): 4 s of frames/ticks.
                    for (fps, count) in [(None, 100), (Some(10.0), 40), (Some(50.0), 199)] {
                        let mut src = open(&bad, &cfg(fps, None));
                        let frames = read_all(&mut src);
                        let (decoded, lost) = (frames.len() as u64, src.frames_lost());
                        let case = format!("{case} at {fps:?} fps: {decoded} decoded, {lost} lost");
                        assert_increasing(&frames);
                        assert!(frames.iter().all(|f| f.record.index < count), "{case}: an index past the end");
                        assert!(decoded > 0, "{case}");
                        assert_eq!(decoded + lost, count, "{case}");
                        if fps.is_none() {
                            // (Resampled, the damaged frames may all be frames no tick uses.)
                            assert!(lost > 0, "{case}");
                            // Every index missing from the output is a frame counted lost.
                            let (first, last) = (frames[0].record.index, frames.last().unwrap().record.index);
                            let gaps: u64 = frames.windows(2).map(|w| w[1].record.index - w[0].record.index - 1).sum();
                            assert_eq!(first + gaps + (count - 1 - last), lost, "{case}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn cut_files_decode_up_to_the_cut() {
        let dir = tempfile::tempdir().unwrap();
        // MP4 with its index first: the index promises 50 frames, the rest is counted lost.
        let mp4 = clip(dir.path(), "fast.mp4", &["-movflags", "+faststart"]);
        cut(&mp4, 0.5);
        let mut src = open(&mp4, &cfg(None, None));
        let frames = read_all(&mut src);
        assert_increasing(&frames);
        assert!(frames.len() > 5 && frames.len() < 50, "{}", frames.len());
        assert_eq!(frames.len() as u64 + src.frames_lost(), 50);
        assert!(src.next_frame().unwrap().is_none());

        let ts = clip(dir.path(), "cut.ts", &[]);
        cut(&ts, 0.5);
        let mut src = open(&ts, &cfg(Some(10.0), None));
        let frames = read_all(&mut src);
        assert_increasing(&frames);
        assert!(frames.len() > 3 && frames.len() < 20, "{}", frames.len());

        // An MP4 whose index was at the end (never written): nothing to decode, a clear error.
        let mp4 = clip(dir.path(), "slow.mp4", &[]);
        cut(&mp4, 0.5);
        assert!(matches!(open_err(&mp4, &cfg(None, None), None), VideoError::NotAMediaFile { .. }));
    }
}
