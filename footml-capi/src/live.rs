//! Live sessions from C: push a frame (RGB/BGR, YUV 4:2:0 or detections), read that frame's
//! tracks, ball and possession, finish into a report.

use std::ffi::{c_char, c_void};
use std::sync::{Arc, Mutex};

use footml::live::{FrameResult, LiveFrame, LiveSession, PackedFormat, YuvColor, YuvMatrix};
use footml::{BBox, CancellationToken, Detection, PipelineConfig};

use crate::error::{Failure, LastError, fail, invalid, non_null};
use crate::pipeline::{CallbackSink, UserData, close_gate, footml_event_callback};
use crate::report::{ball_row, footml_ball_row, footml_report, footml_track_row, track_row, write_rows};
use crate::result::footml_result;
use crate::string::str_arg;

/// `format` of `footml_live_push_rgb`: bytes R, G, B.
pub const FOOTML_PIXEL_RGB24: u32 = 0;
/// `format` of `footml_live_push_rgb`: bytes B, G, R (OpenCV's order).
pub const FOOTML_PIXEL_BGR24: u32 = 1;
/// `footml_yuv420_frame::matrix`: ITU-R BT.601.
pub const FOOTML_YUV_BT601: u32 = 0;
/// `footml_yuv420_frame::matrix`: ITU-R BT.709.
pub const FOOTML_YUV_BT709: u32 = 1;

/// A planar YUV 4:2:0 (I420) frame: a full-size Y plane, U and V planes of
/// ⌈width/2⌉ × ⌈height/2⌉ samples.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct footml_yuv420_frame {
    /// The Y, U and V planes.
    pub planes: [*const u8; 3],
    /// Length in bytes of each plane's buffer.
    pub lens: [usize; 3],
    /// Bytes per row of each plane.
    pub strides: [usize; 3],
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `FOOTML_YUV_BT601` or `FOOTML_YUV_BT709`.
    pub matrix: u32,
    /// 1 for full range (0–255), 0 for limited range (Y 16–235).
    pub full_range: u32,
    /// Presentation time in seconds: finite, ≥ 0, increasing from frame to frame.
    pub timestamp_s: f64,
}

/// A detection pushed into a detections session.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct footml_detection {
    /// Left edge, pixels.
    pub x: f32,
    /// Top edge, pixels.
    pub y: f32,
    /// Width, pixels (> 0).
    pub w: f32,
    /// Height, pixels (> 0).
    pub h: f32,
    /// Detector confidence.
    pub score: f32,
    /// Detector class id.
    pub class_id: u32,
}

/// Who has the ball in one live frame (`footml_live_frame_possession`).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct footml_possession {
    /// 1 when the session estimates possession (its pipeline is calibrated and tracks the
    /// ball), 0 when not (then `team` is -1 and `track_id` 0).
    pub estimated: u32,
    /// Team in possession (0 or 1): the live team of the player in control (the `team` of
    /// `footml_live_frame_tracks`); -1 when nobody has the ball or the team is unknown.
    pub team: i32,
    /// Track controlling the ball, 0 when none (track ids start at 1).
    pub track_id: u64,
}

/// The results of the last pushed frame, owned by the session for C to read.
#[derive(Default)]
struct LastFrame {
    tracks: Vec<footml_track_row>,
    ball: Option<footml_ball_row>,
    possession: Option<footml::analysis::Possession>,
}

/// A live session (opaque): made by `footml_live_new`, freed with `footml_live_free`. Calls
/// on one session must not overlap, except `footml_live_cancel` and `footml_live_last_error`,
/// which any thread may call at any time.
#[allow(non_camel_case_types)]
pub struct footml_live {
    session: Mutex<Option<LiveSession>>,
    cancel: CancellationToken,
    frame: Mutex<LastFrame>,
    last_error: LastError,
    /// Closed once the session's engine has stopped, so the event callback is never called
    /// after `footml_live_finish` or `footml_live_free` returns.
    events_open: Arc<Mutex<bool>>,
}

impl Drop for footml_live {
    fn drop(&mut self) {
        // Stop (cancel and join) the engine first, then the callback.
        drop(self.session.lock().unwrap_or_else(|p| p.into_inner()).take());
        close_gate(&self.events_open);
    }
}

impl footml_live {
    fn closed() -> Failure {
        (footml_result::FOOTML_ERR_CLOSED, "the live session has finished".to_string())
    }

    /// Pushes a frame and keeps its results for `footml_live_frame_tracks`/`_ball`.
    fn push(&self, frame: LiveFrame<'_>) -> Result<(), Failure> {
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let session = session.as_mut().ok_or_else(Self::closed)?;
        let result = session.push(frame).map_err(fail)?;
        *self.frame.lock().unwrap_or_else(|p| p.into_inner()) = last_frame(&result);
        Ok(())
    }
}

fn last_frame(r: &FrameResult) -> LastFrame {
    let tracks = r
        .tracks()
        .iter()
        .map(|t| {
            let b = t.bbox;
            let team = r.team_of(t.track_id);
            track_row(r.index(), t.track_id, [b.x, b.y, b.w, b.h], t.score, team, r.pitch_position(&b))
        })
        .collect();
    let ball = r.ball().and_then(|b| {
        let centre = BBox::new(b.x, b.y, 0.0, 0.0);
        ball_row(r.index(), b, r.pitch_position(&centre))
    });
    LastFrame { tracks, ball, possession: r.possession() }
}

/// Runs `f` on a session argument inside the panic boundary, recording a failure as the
/// session's last error.
fn with_live(s: *const footml_live, f: impl FnOnce(&footml_live) -> Result<(), Failure>) -> footml_result {
    crate::panic::boundary(|| {
        if s.is_null() {
            return footml_result::FOOTML_ERR_NULL_POINTER;
        }
        // SAFETY: non-NULL and alive by the caller's contract; only shared access is used.
        let s = unsafe { &*s };
        s.last_error.record(f(s))
    })
}

/// A byte buffer argument: NULL is an error, except for an empty buffer.
///
/// # Safety
///
/// `p` must be NULL or point to `len` readable bytes that outlive `'a`.
unsafe fn bytes<'a>(p: *const u8, len: usize, name: &str) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    non_null(p, name)?;
    // SAFETY: non-NULL and `len` readable bytes by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Starts a live session for a configuration (JSON): `fps` and `frame_size` are required,
/// `live.input` says whether pushes carry pixels or detections (see `footml::config::LiveConfig`).
/// `callback` (may be NULL) receives the pipeline events with `userdata`, as for
/// `footml_pipeline_run`, until `footml_live_finish` or `footml_live_free` returns.
/// `*live_out` is set to NULL first and receives the session on success; on failure
/// `*error_out` (when `error_out` is not NULL) receives the message, freed with
/// `footml_string_free`.
///
/// # Safety
///
/// `config_json` must be NULL or NUL-terminated; `live_out` and `error_out` must each be NULL
/// or writable; `callback`, when not NULL, must be safe to call from another thread with
/// `userdata` until the session is finished or freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_live_new(
    config_json: *const c_char,
    callback: footml_event_callback,
    userdata: *mut c_void,
    live_out: *mut *mut footml_live,
    error_out: *mut *mut c_char,
) -> footml_result {
    crate::panic::boundary(|| {
        // SAFETY: out-pointers are NULL or writable by the caller's contract.
        unsafe { crate::string::clear_out(live_out, error_out) };
        let outcome = (|| -> Result<*mut footml_live, Failure> {
            non_null(live_out, "live_out")?;
            // SAFETY: NULL or NUL-terminated by the caller's contract, read during this call.
            let json = unsafe { str_arg(config_json, "config_json") }?;
            let config = PipelineConfig::from_json(json).map_err(|e| fail(e.into()))?;
            let events_open = Arc::new(Mutex::new(true));
            let session = LiveSession::from_config_with(&config, |b| {
                Ok(match callback {
                    Some(callback) => {
                        let open = events_open.clone();
                        b.event_sink(CallbackSink { callback, userdata: UserData(userdata), open })
                    }
                    None => b,
                })
            })
            .map_err(fail)?;
            let live = footml_live {
                cancel: session.cancellation_token(),
                session: Mutex::new(Some(session)),
                frame: Mutex::new(LastFrame::default()),
                last_error: LastError::default(),
                events_open,
            };
            Ok(Box::into_raw(Box::new(live)))
        })();
        // SAFETY: out-pointers are NULL or writable by the caller's contract.
        unsafe { crate::string::finish_new(outcome, live_out, error_out) }
    })
}

/// Pushes a packed 8-bit RGB or BGR frame (`format`: `FOOTML_PIXEL_RGB24` or
/// `FOOTML_PIXEL_BGR24`) of `width` × `height` pixels, `stride` bytes per row, `len` bytes in
/// all, and waits for its results. The pixels are copied; `data` may be reused at once.
/// A bad frame (size, stride, length, timestamp) is `FOOTML_ERR_INVALID_ARGUMENT` and leaves
/// the session as it was.
///
/// # Safety
///
/// `live` must be NULL or a session not yet freed; `data` must be NULL or point to `len`
/// readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_live_push_rgb(
    live: *const footml_live,
    data: *const u8,
    len: usize,
    width: u32,
    height: u32,
    stride: usize,
    format: u32,
    timestamp_s: f64,
) -> footml_result {
    with_live(live, |s| {
        let format = match format {
            FOOTML_PIXEL_RGB24 => PackedFormat::Rgb24,
            FOOTML_PIXEL_BGR24 => PackedFormat::Bgr24,
            other => return Err(invalid(format!("format: expected FOOTML_PIXEL_RGB24 or _BGR24, found {other}"))),
        };
        non_null(data, "data")?;
        // SAFETY: `len` readable bytes by the caller's contract.
        let data = unsafe { bytes(data, len, "data") }?;
        s.push(LiveFrame::Packed { format, width, height, stride, data, timestamp_s })
    })
}

/// Pushes a planar YUV 4:2:0 frame and waits for its results. The planes are converted to
/// RGB (swscale) before the call returns.
///
/// # Safety
///
/// `live` must be NULL or a session not yet freed; `frame` must be NULL or point to a
/// frame whose planes are NULL or hold `lens[i]` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_live_push_yuv420(
    live: *const footml_live,
    frame: *const footml_yuv420_frame,
) -> footml_result {
    with_live(live, |s| {
        non_null(frame, "frame")?;
        // SAFETY: non-NULL and readable by the caller's contract.
        let f = unsafe { &*frame };
        let matrix = match f.matrix {
            FOOTML_YUV_BT601 => YuvMatrix::Bt601,
            FOOTML_YUV_BT709 => YuvMatrix::Bt709,
            other => return Err(invalid(format!("matrix: expected FOOTML_YUV_BT601 or _BT709, found {other}"))),
        };
        let full_range = match f.full_range {
            0 => false,
            1 => true,
            other => return Err(invalid(format!("full_range: expected 0 or 1, found {other}"))),
        };
        let mut planes: [&[u8]; 3] = [&[]; 3];
        for (i, name) in ["planes[0]", "planes[1]", "planes[2]"].into_iter().enumerate() {
            non_null(f.planes[i], name)?;
            // SAFETY: `lens[i]` readable bytes by the caller's contract.
            planes[i] = unsafe { bytes(f.planes[i], f.lens[i], name) }?;
        }
        s.push(LiveFrame::Yuv420p {
            width: f.width,
            height: f.height,
            planes,
            strides: f.strides,
            color: YuvColor { matrix, full_range },
            timestamp_s: f.timestamp_s,
        })
    })
}

/// Pushes one frame's detections (a session with `live.input` detections) and waits for its
/// results. `players` may be NULL when `n_players` is 0; `ball` is NULL when the frame has no
/// ball candidates (only sessions with `live.ball_candidates` take them). To give each player
/// detection its team, use `footml_live_push_detections_teams`.
///
/// # Safety
///
/// `live` must be NULL or a session not yet freed; `players` must be NULL or point to
/// `n_players` detections, `ball` NULL or to `n_ball` detections.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_live_push_detections(
    live: *const footml_live,
    players: *const footml_detection,
    n_players: usize,
    ball: *const footml_detection,
    n_ball: usize,
    timestamp_s: f64,
) -> footml_result {
    with_live(live, |s| {
        // SAFETY: the pointers and counts are the caller's, under this function's contract.
        let dets = unsafe { DetectionsArgs::read(players, n_players, ball, n_ball) }?;
        dets.push(s, None, timestamp_s)
    })
}

/// `footml_live_push_detections` with the team the caller knows for each player detection:
/// `teams[i]` is 0 or 1 for `players[i]`, or -1 when unknown (like a detections file's
/// column 8). Each track takes the majority of its detections' teams, frame by frame, for the
/// `team` of `footml_live_frame_tracks` and of `footml_live_frame_possession` (never guessed:
/// a track none of whose detections has a team stays -1); with `live.user_teams` the report
/// of `footml_live_finish` has them too. `teams` NULL with `n_teams` 0 gives no teams (the
/// same push as `footml_live_push_detections`).
///
/// A separate function rather than a `team` field in `footml_detection`: that struct is
/// passed as an array, so a new field would change its size and break every compiled caller;
/// zero-initialised rows of callers built from source would silently become team 0; and ball
/// candidates, which share the struct, have no team.
///
/// Errors (the session is left as it was; `footml_live_last_error` says which): `teams` NULL
/// with `n_teams` > 0 is `FOOTML_ERR_NULL_POINTER`; `n_teams` other than `n_players`, or a
/// team other than 0, 1 or -1, is `FOOTML_ERR_INVALID_ARGUMENT`.
///
/// # Safety
///
/// As `footml_live_push_detections`; `teams` must be NULL or point to `n_teams` readable
/// values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_live_push_detections_teams(
    live: *const footml_live,
    players: *const footml_detection,
    n_players: usize,
    teams: *const i32,
    n_teams: usize,
    ball: *const footml_detection,
    n_ball: usize,
    timestamp_s: f64,
) -> footml_result {
    with_live(live, |s| {
        // SAFETY: the pointers and counts are the caller's, under this function's contract.
        let dets = unsafe { DetectionsArgs::read(players, n_players, ball, n_ball) }?;
        let teams = if teams.is_null() && n_teams == 0 {
            None
        } else {
            non_null(teams, "teams")?;
            // SAFETY: non-NULL and `n_teams` readable values by the caller's contract.
            let teams = unsafe { std::slice::from_raw_parts(teams, n_teams) };
            Some(teams.iter().enumerate().map(|(i, &t)| team_of(i, t)).collect::<Result<Vec<_>, _>>()?)
        };
        // The core checks that there is one team per player detection.
        dets.push(s, teams.as_deref(), timestamp_s)
    })
}

/// A C team value as the core's: 0 and 1 are teams, -1 is unknown, anything else an error.
fn team_of(index: usize, team: i32) -> Result<Option<u32>, Failure> {
    match team {
        0 | 1 => Ok(Some(team as u32)),
        -1 => Ok(None),
        other => Err(invalid(format!("teams[{index}]: expected 0, 1 or -1 (unknown), found {other}"))),
    }
}

/// The detections of a push, copied out of the caller's arrays.
struct DetectionsArgs {
    players: Vec<Detection>,
    ball: Option<Vec<Detection>>,
}

impl DetectionsArgs {
    /// Copies the player detections and ball candidates (`ball` NULL = none in this frame).
    ///
    /// # Safety
    ///
    /// `players` must be NULL or point to `n_players` detections, `ball` NULL or to `n_ball`.
    unsafe fn read(
        players: *const footml_detection,
        n_players: usize,
        ball: *const footml_detection,
        n_ball: usize,
    ) -> Result<Self, Failure> {
        let convert = |p: *const footml_detection, n: usize, name: &str| -> Result<Vec<Detection>, Failure> {
            if n == 0 {
                return Ok(Vec::new());
            }
            non_null(p, name)?;
            // SAFETY: non-NULL and `n` readable detections by the caller's contract.
            let dets = unsafe { std::slice::from_raw_parts(p, n) };
            Ok(dets
                .iter()
                .map(|d| Detection { bbox: BBox::new(d.x, d.y, d.w, d.h), score: d.score, class_id: d.class_id })
                .collect())
        };
        let players = convert(players, n_players, "players")?;
        let ball = if ball.is_null() { None } else { Some(convert(ball, n_ball, "ball")?) };
        Ok(DetectionsArgs { players, ball })
    }

    /// Pushes them, with the players' teams when given.
    fn push(&self, s: &footml_live, teams: Option<&[Option<u32>]>, timestamp_s: f64) -> Result<(), Failure> {
        s.push(LiveFrame::Detections {
            players: &self.players,
            ball_candidates: self.ball.as_deref(),
            player_teams: teams,
            timestamp_s,
        })
    }
}

/// The confirmed player tracks of the last pushed frame. `team` is the track's provisional
/// team from the kit colours of the frames so far (`live.teams`; the report of
/// `footml_live_finish` has the whole-match vote): -1 while the classification warms up, for
/// referees and undecided tracks, and in sessions without kit colours (detections input). In
/// a detections session whose pushes carry teams (`footml_live_push_detections_teams`) it is
/// the majority of the track's given teams, -1 when none of its detections had one.
/// `*rows_out` points into the session (valid until the next push or `footml_live_free`; NULL
/// when there are none), `*len_out` is the number of rows.
///
/// # Safety
///
/// `live` must be NULL or a session not yet freed; `rows_out` and `len_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_live_frame_tracks(
    live: *const footml_live,
    rows_out: *mut *const footml_track_row,
    len_out: *mut usize,
) -> footml_result {
    with_live(live, |s| {
        non_null(rows_out, "rows_out")?;
        non_null(len_out, "len_out")?;
        let frame = s.frame.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: both writable by the caller's contract; the rows live in the session until
        // the next push replaces them.
        unsafe { write_rows(&frame.tracks, rows_out, len_out) };
        Ok(())
    })
}

/// The ball in the last pushed frame: `*ball_out` points into the session (valid until the
/// next push or `footml_live_free`), or is NULL when the pipeline has no ball position for
/// the frame.
///
/// # Safety
///
/// `live` must be NULL or a session not yet freed; `ball_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_live_frame_ball(
    live: *const footml_live,
    ball_out: *mut *const footml_ball_row,
) -> footml_result {
    with_live(live, |s| {
        non_null(ball_out, "ball_out")?;
        let frame = s.frame.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: writable by the caller's contract.
        unsafe { *ball_out = frame.ball.as_ref().map_or(std::ptr::null(), |b| b as *const footml_ball_row) };
        Ok(())
    })
}

/// Who has the ball in the last pushed frame, as far as the frames pushed so far tell (the
/// file run, which sees the whole match, can decide a frame differently: see
/// `footml::stages::events::LivePossession`). Before the first push: not estimated.
///
/// # Safety
///
/// `live` must be NULL or a session not yet freed; `possession_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_live_frame_possession(
    live: *const footml_live,
    possession_out: *mut footml_possession,
) -> footml_result {
    with_live(live, |s| {
        non_null(possession_out, "possession_out")?;
        let frame = s.frame.lock().unwrap_or_else(|p| p.into_inner());
        let p = frame.possession;
        let out = footml_possession {
            estimated: p.is_some() as u32,
            team: p.and_then(|p| p.team).map_or(-1, |t| t as i32),
            track_id: p.and_then(|p| p.track_id).unwrap_or(0),
        };
        // SAFETY: writable by the caller's contract.
        unsafe { *possession_out = out };
        Ok(())
    })
}

/// The index the next pushed frame gets: 0, or after resuming a crashed session with the
/// same `pipeline_id` and checkpoints, the first frame they do not cover.
///
/// # Safety
///
/// `live` must be NULL or a session not yet freed; `index_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_live_next_index(live: *const footml_live, index_out: *mut u64) -> footml_result {
    with_live(live, |s| {
        non_null(index_out, "index_out")?;
        let mut session = s.session.lock().unwrap_or_else(|p| p.into_inner());
        let next = session.as_mut().ok_or_else(footml_live::closed)?.next_index().map_err(fail)?;
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { *index_out = next };
        Ok(())
    })
}

/// Ends the feed: the match stages run and `*report_out` receives the report (free it with
/// `footml_report_free`; set to NULL first). The session then takes no more pushes
/// (`FOOTML_ERR_CLOSED`) but must still be freed.
///
/// # Safety
///
/// `live` must be NULL or a session not yet freed; `report_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_live_finish(
    live: *const footml_live,
    report_out: *mut *mut footml_report,
) -> footml_result {
    with_live(live, |s| {
        non_null(report_out, "report_out")?;
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { *report_out = std::ptr::null_mut() };
        let session = s.session.lock().unwrap_or_else(|p| p.into_inner()).take().ok_or_else(footml_live::closed)?;
        let report = session.finish();
        close_gate(&s.events_open);
        let report = report.map_err(fail)?;
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { *report_out = footml_report::boxed(report) };
        Ok(())
    })
}

/// Cancels the session from any thread: a push waiting for its result returns
/// `FOOTML_ERR_CANCELLED`, and later pushes `FOOTML_ERR_CLOSED`.
///
/// # Safety
///
/// `live` must be NULL or a session not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_live_cancel(live: *const footml_live) -> footml_result {
    crate::panic::boundary(|| {
        if live.is_null() {
            return footml_result::FOOTML_ERR_NULL_POINTER;
        }
        // SAFETY: non-NULL and alive by the caller's contract; the token is thread-safe.
        unsafe { &*live }.cancel.cancel();
        footml_result::FOOTML_OK
    })
}

/// The message of the last failed call on `live`, or NULL when none failed (or `live` is
/// NULL). Valid until the next failing call on it or `footml_live_free`.
///
/// # Safety
///
/// `live` must be NULL or a session not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_live_last_error(live: *const footml_live) -> *const c_char {
    crate::panic::boundary(|| {
        if live.is_null() {
            return std::ptr::null();
        }
        // SAFETY: non-NULL and alive by the caller's contract.
        unsafe { &*live }.last_error.as_ptr()
    })
}

/// Frees a session; one that was not finished is cancelled first. NULL does nothing.
///
/// # Safety
///
/// `live` must be NULL or a session from `footml_live_new`, not freed before, with no call
/// on it running.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_live_free(live: *mut footml_live) {
    crate::panic::boundary(|| {
        if !live.is_null() {
            // SAFETY: made by `Box::into_raw` in `footml_live_new`, freed once.
            drop(unsafe { Box::from_raw(live) });
        }
    })
}

#[cfg(test)]
mod tests {
    use footml::analysis::{Possession, Role, TrackTeam};
    use footml::live::FrameResult;
    use footml::{FrameRecord, TrackedBox};

    use super::*;

    /// The rows of a live frame carry each track's team (-1 for none), and possession its
    /// team.
    #[test]
    fn frame_rows_carry_the_live_teams() {
        let track = |track_id| TrackedBox { track_id, bbox: BBox::new(10.0, 20.0, 30.0, 60.0), score: 0.9 };
        let record = FrameRecord { index: 7, tracks: Some(vec![track(3), track(5), track(8)]), ..Default::default() };
        let teams = vec![
            TrackTeam::user(3, Some(1), Role::Player),
            TrackTeam::user(5, None, Role::Referee),
            TrackTeam::user(8, Some(0), Role::Goalkeeper),
        ];
        let possession = Some(Possession { team: Some(1), track_id: Some(3) });
        let frame = last_frame(&FrameResult { record: record.clone(), possession, teams: Some(teams) });
        let rows: Vec<(u64, u64, i32)> = frame.tracks.iter().map(|r| (r.frame, r.track_id, r.team)).collect();
        assert_eq!(rows, vec![(7, 3, 1), (7, 5, -1), (7, 8, 0)]);
        assert_eq!(frame.possession, possession);
        // A session without teams: every row -1.
        let frame = last_frame(&FrameResult { record, possession: None, teams: None });
        assert!(frame.tracks.iter().all(|r| r.team == -1));
    }

    /// A detections session through the C functions.
    fn new_session(json: &std::ffi::CStr) -> *mut footml_live {
        let mut live = std::ptr::null_mut();
        // SAFETY: a NUL-terminated config and a writable out-pointer.
        let rc = unsafe { footml_live_new(json.as_ptr(), None, std::ptr::null_mut(), &mut live, std::ptr::null_mut()) };
        assert_eq!(rc, footml_result::FOOTML_OK);
        live
    }

    /// `(track_id, team)` of the last frame's rows.
    fn frame_teams(live: *const footml_live) -> Vec<(u64, i32)> {
        let (mut rows, mut len) = (std::ptr::null(), 0);
        // SAFETY: a live session and writable out-pointers; the rows are read before the next push.
        unsafe {
            assert_eq!(footml_live_frame_tracks(live, &mut rows, &mut len), footml_result::FOOTML_OK);
            std::slice::from_raw_parts(rows, len).iter().map(|r| (r.track_id, r.team)).collect()
        }
    }

    fn last_error(live: *const footml_live) -> String {
        // SAFETY: a live session whose last call failed: its message is valid until the next call.
        unsafe { std::ffi::CStr::from_ptr(footml_live_last_error(live)) }.to_str().unwrap().to_string()
    }

    /// Three boxes (the core's `detection_teams_give_each_track_the_majority_of_its_detections`):
    /// box 0 always team 1, box 1 team 0 in three of four frames, box 2 -1 (unknown). Each
    /// frame's rows carry the majority (1, 0, -1 throughout: 2/3 and 3/4 for box 1), and with
    /// `live.user_teams` the report's rows too.
    #[test]
    fn pushed_teams_are_the_tracks_teams_and_reach_the_report() {
        let live = new_session(
            c"{\"fps\": 25, \"frame_size\": [640, 480], \"live\": {\"input\": \"detections\", \"user_teams\": true}}",
        );
        let det = |x: f32| footml_detection { x, y: 100.0, w: 20.0, h: 50.0, score: 0.9, class_id: 0 };
        let teams: [[i32; 3]; 4] = [[1, 0, -1], [1, 0, -1], [1, 1, -1], [1, 0, -1]];
        for (i, t) in teams.iter().enumerate() {
            let players = [det(10.0 + 2.0 * i as f32), det(300.0), det(500.0)];
            let ts = i as f64 * 0.04;
            // SAFETY: a live session, 3 detections and 3 teams, no ball.
            let rc = unsafe {
                footml_live_push_detections_teams(live, players.as_ptr(), 3, t.as_ptr(), 3, std::ptr::null(), 0, ts)
            };
            assert_eq!(rc, footml_result::FOOTML_OK, "frame {i}");
            assert_eq!(frame_teams(live), [(1, 1), (2, 0), (3, -1)], "frame {i}");
        }
        let players = [det(18.0), det(300.0), det(500.0)];
        let push = |teams: *const i32, n_teams: usize| {
            // SAFETY: a live session, 3 detections; `teams` NULL or `n_teams` values.
            unsafe {
                footml_live_push_detections_teams(live, players.as_ptr(), 3, teams, n_teams, std::ptr::null(), 0, 0.16)
            }
        };
        // Bad teams: typed codes, the message names the problem, the session is unchanged.
        let cases: [(&[i32], usize, footml_result, &str); 5] = [
            (
                &[1],
                1,
                footml_result::FOOTML_ERR_INVALID_ARGUMENT,
                "player teams: expected one per player detection (3), found 1",
            ),
            (
                &[1, 0, -1, 0],
                4,
                footml_result::FOOTML_ERR_INVALID_ARGUMENT,
                "player teams: expected one per player detection (3), found 4",
            ),
            (
                &[1, 2, -1],
                3,
                footml_result::FOOTML_ERR_INVALID_ARGUMENT,
                "teams[1]: expected 0, 1 or -1 (unknown), found 2",
            ),
            (
                &[1, 0, -2],
                3,
                footml_result::FOOTML_ERR_INVALID_ARGUMENT,
                "teams[2]: expected 0, 1 or -1 (unknown), found -2",
            ),
            (&[], 3, footml_result::FOOTML_ERR_NULL_POINTER, "`teams` is NULL"),
        ];
        for (teams, n, code, message) in cases {
            let p = if teams.is_empty() { std::ptr::null() } else { teams.as_ptr() };
            assert_eq!(push(p, n), code, "{teams:?}");
            assert_eq!(last_error(live), message);
        }
        // NULL with 0: no teams in this frame; the votes so far stand.
        assert_eq!(push(std::ptr::null(), 0), footml_result::FOOTML_OK);
        assert_eq!(frame_teams(live), [(1, 1), (2, 0), (3, -1)]);

        let mut report = std::ptr::null_mut();
        let (mut rows, mut len) = (std::ptr::null(), 0);
        // SAFETY: a live session, then the report it gave, freed once, as is the session.
        let final_teams: std::collections::BTreeSet<(u64, i32)> = unsafe {
            assert_eq!(footml_live_finish(live, &mut report), footml_result::FOOTML_OK);
            assert_eq!(crate::footml_report_tracks(report, &mut rows, &mut len), footml_result::FOOTML_OK);
            let got = std::slice::from_raw_parts(rows, len).iter().map(|r| (r.track_id, r.team)).collect();
            crate::footml_report_free(report);
            footml_live_free(live);
            got
        };
        assert_eq!(final_teams.into_iter().collect::<Vec<_>>(), [(1, 1), (2, 0), (3, -1)]);
    }
}
