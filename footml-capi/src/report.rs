//! The match report as C sees it: JSON, and the per-frame tables as arrays of rows.

use std::ffi::{CString, c_char};
use std::sync::OnceLock;

use footml::report::MatchReport;
use footml::{BallObservation, BallState};

use crate::error::{Failure, non_null};
use crate::result::footml_result;

/// `footml_ball_row::state`: a candidate was matched in this frame.
pub const FOOTML_BALL_TRACKED: u32 = 0;
/// `footml_ball_row::state`: no candidate matched; the position is predicted or
/// interpolated.
pub const FOOTML_BALL_OCCLUDED: u32 = 1;

/// One player track in one frame.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct footml_track_row {
    /// Frame index, from 0.
    pub frame: u64,
    /// Track id, from 1.
    pub track_id: u64,
    /// Left edge of the box, pixels.
    pub x: f32,
    /// Top edge of the box, pixels.
    pub y: f32,
    /// Box width, pixels.
    pub w: f32,
    /// Box height, pixels.
    pub h: f32,
    /// Detection score.
    pub score: f32,
    /// Team id (0 or 1), or -1 when unknown (no team classification, referee, live frame).
    pub team: i32,
    /// Feet position on the pitch in metres (origin at the centre spot), NaN when the frame
    /// is not calibrated.
    pub pitch_x: f64,
    /// See `pitch_x`.
    pub pitch_y: f64,
}

/// The ball in one frame.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct footml_ball_row {
    /// Frame index, from 0.
    pub frame: u64,
    /// Centre, pixels.
    pub x: f32,
    /// Centre, pixels.
    pub y: f32,
    /// The centre on the pitch plane in metres, NaN when the frame is not calibrated.
    pub pitch_x: f64,
    /// See `pitch_x`.
    pub pitch_y: f64,
    /// `FOOTML_BALL_TRACKED` or `FOOTML_BALL_OCCLUDED`.
    pub state: u32,
    /// 1 when the position was filled in across a gap by smoothing, else 0.
    pub interpolated: u32,
}

pub(crate) fn track_row(
    frame: u64,
    track_id: u64,
    bbox: [f32; 4],
    score: f32,
    team: Option<u32>,
    pitch: Option<[f64; 2]>,
) -> footml_track_row {
    let [pitch_x, pitch_y] = pitch.unwrap_or([f64::NAN; 2]);
    let [x, y, w, h] = bbox;
    footml_track_row { frame, track_id, x, y, w, h, score, team: team.map_or(-1, |t| t as i32), pitch_x, pitch_y }
}

/// The row of a ball with a position (tracked or occluded); `None` when it is lost.
pub(crate) fn ball_row(frame: u64, b: &BallObservation, pitch: Option<[f64; 2]>) -> Option<footml_ball_row> {
    let state = match b.state {
        BallState::Tracked => FOOTML_BALL_TRACKED,
        BallState::Occluded => FOOTML_BALL_OCCLUDED,
        _ => return None,
    };
    let [pitch_x, pitch_y] = pitch.unwrap_or([f64::NAN; 2]);
    Some(footml_ball_row { frame, x: b.x, y: b.y, pitch_x, pitch_y, state, interpolated: u32::from(b.interpolated) })
}

/// A finished run's report (opaque). Made by `footml_pipeline_run` or `footml_live_finish`,
/// freed with `footml_report_free`.
#[allow(non_camel_case_types)]
pub struct footml_report {
    report: MatchReport,
    json: OnceLock<Result<CString, String>>,
    tracks: Vec<footml_track_row>,
    ball: Vec<footml_ball_row>,
}

impl footml_report {
    /// A heap-allocated report for C.
    pub(crate) fn boxed(report: MatchReport) -> *mut footml_report {
        let mut tracks: Vec<footml_track_row> = report
            .tracks
            .iter()
            .flat_map(|t| t.frames.iter().map(|f| track_row(f.frame, t.track_id, f.bbox, f.score, t.team, f.pitch)))
            .collect();
        tracks.sort_by_key(|r| (r.frame, r.track_id));
        let ball = report
            .ball
            .iter()
            .map(|b| {
                let [pitch_x, pitch_y] = b.pitch.unwrap_or([f64::NAN; 2]);
                let state = if b.state == BallState::Tracked { FOOTML_BALL_TRACKED } else { FOOTML_BALL_OCCLUDED };
                footml_ball_row {
                    frame: b.frame,
                    x: b.x,
                    y: b.y,
                    pitch_x,
                    pitch_y,
                    state,
                    interpolated: u32::from(b.interpolated),
                }
            })
            .collect();
        Box::into_raw(Box::new(footml_report { report, json: OnceLock::new(), tracks, ball }))
    }
}

/// Runs `f` on a report argument inside the panic boundary.
fn with_report(r: *const footml_report, f: impl FnOnce(&footml_report) -> Result<(), Failure>) -> footml_result {
    crate::panic::boundary(|| {
        let outcome = non_null(r, "report").and_then(|()| {
            // SAFETY: non-NULL, and a live report from this library by the caller's contract.
            f(unsafe { &*r })
        });
        outcome.err().map_or(footml_result::FOOTML_OK, |(code, _)| code)
    })
}

/// The report as JSON (the layout of `report.json`). `*json_out` points into the report:
/// valid until `footml_report_free`, not to be freed by the caller.
///
/// # Safety
///
/// `report` must be NULL or a report from this library not yet freed; `json_out` must be
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_report_json(
    report: *const footml_report,
    json_out: *mut *const c_char,
) -> footml_result {
    with_report(report, |r| {
        non_null(json_out, "json_out")?;
        let json = r.json.get_or_init(|| {
            serde_json::to_string(&r.report).map(|s| crate::string::to_c_string(&s)).map_err(|e| e.to_string())
        });
        let json = json.as_ref().map_err(|e| (footml_result::FOOTML_ERR_OTHER, format!("report to JSON: {e}")))?;
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { *json_out = json.as_ptr() };
        Ok(())
    })
}

/// The player tracks table: one row per track and frame, sorted by frame then track id.
/// `*rows_out` points into the report (valid until `footml_report_free`; NULL when there are
/// no rows) and `*len_out` is the number of rows.
///
/// # Safety
///
/// `report` must be NULL or a report from this library not yet freed; `rows_out` and
/// `len_out` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_report_tracks(
    report: *const footml_report,
    rows_out: *mut *const footml_track_row,
    len_out: *mut usize,
) -> footml_result {
    with_report(report, |r| {
        non_null(rows_out, "rows_out")?;
        non_null(len_out, "len_out")?;
        // SAFETY: both non-NULL and writable by the caller's contract.
        unsafe { write_rows(&r.tracks, rows_out, len_out) };
        Ok(())
    })
}

/// The ball table: one row per frame with a ball position, in frame order. `*rows_out`
/// points into the report (valid until `footml_report_free`; NULL when there are no rows)
/// and `*len_out` is the number of rows.
///
/// # Safety
///
/// `report` must be NULL or a report from this library not yet freed; `rows_out` and
/// `len_out` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_report_ball(
    report: *const footml_report,
    rows_out: *mut *const footml_ball_row,
    len_out: *mut usize,
) -> footml_result {
    with_report(report, |r| {
        non_null(rows_out, "rows_out")?;
        non_null(len_out, "len_out")?;
        // SAFETY: both non-NULL and writable by the caller's contract.
        unsafe { write_rows(&r.ball, rows_out, len_out) };
        Ok(())
    })
}

/// Writes a table's pointer (NULL when empty) and length.
///
/// # Safety
///
/// Both out-pointers must be writable.
pub(crate) unsafe fn write_rows<T>(rows: &[T], rows_out: *mut *const T, len_out: *mut usize) {
    // SAFETY: writable by the caller's contract.
    unsafe {
        *rows_out = if rows.is_empty() { std::ptr::null() } else { rows.as_ptr() };
        *len_out = rows.len();
    }
}

/// Frees a report. NULL does nothing.
///
/// # Safety
///
/// `report` must be NULL or a report from this library, not freed before; pointers into it
/// (JSON, tables) are invalid afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_report_free(report: *mut footml_report) {
    crate::panic::boundary(|| {
        if !report.is_null() {
            // SAFETY: made by `Box::into_raw` in `footml_report::boxed`, freed once.
            drop(unsafe { Box::from_raw(report) });
        }
    })
}
