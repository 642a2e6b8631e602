//! The match report as C sees it: JSON, and the per-frame tables as arrays of rows.

use std::ffi::{CString, c_char};
use std::sync::OnceLock;

use footml::report::{CalibrationFrame, MatchReport};
use footml::{BallObservation, BallState, Calibration};

use crate::error::{Failure, LastError, non_null};
use crate::result::footml_result;

/// `footml_ball_row::state`: a candidate was matched in this frame.
pub const FOOTML_BALL_TRACKED: u32 = 0;
/// `footml_ball_row::state`: no candidate matched; the position is predicted or
/// interpolated.
pub const FOOTML_BALL_OCCLUDED: u32 = 1;

/// `footml_calibration_row::source`: the homography was given by the user (a homography file
/// or matrix, or fitted to configured correspondences).
pub const FOOTML_CALIBRATION_GIVEN: u32 = 0;
/// `footml_calibration_row::source`: fitted to this frame's pitch keypoints (`keypoints`,
/// `inliers` and `rms_error_m` say how well).
pub const FOOTML_CALIBRATION_KEYPOINTS: u32 = 1;
/// `footml_calibration_row::source`: too few keypoints in this frame; the homography fitted in
/// frame `from_frame` is reused.
pub const FOOTML_CALIBRATION_REUSED: u32 = 2;
/// `footml_calibration_row::source`: a user stage set the homography without saying how.
pub const FOOTML_CALIBRATION_UNKNOWN: u32 = 3;

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
    /// Team id (0 or 1), or -1 when unknown (no team classification, referee; in a live frame,
    /// also while the provisional classification warms up).
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

/// The calibration of one frame: its image → pitch homography and where it came from.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct footml_calibration_row {
    /// Frame index, from 0.
    pub frame: u64,
    /// Image → pitch homography, row-major (`h[0..3]` is the first row): pixel `(u, v, 1)` to
    /// pitch metres `(x, y, 1)`, origin at the centre spot.
    pub image_to_pitch: [f64; 9],
    /// `FOOTML_CALIBRATION_GIVEN`, `_KEYPOINTS`, `_REUSED` or `_UNKNOWN`.
    pub source: u32,
    /// Keypoints found with a pitch position (`FOOTML_CALIBRATION_KEYPOINTS`, else 0).
    pub keypoints: u32,
    /// Of those, the ones that agree with the fit (`FOOTML_CALIBRATION_KEYPOINTS`, else 0).
    pub inliers: u32,
    /// Root-mean-square distance of the inliers from their pitch positions, metres
    /// (`FOOTML_CALIBRATION_KEYPOINTS`, else NaN).
    pub rms_error_m: f64,
    /// The frame whose homography is reused (`FOOTML_CALIBRATION_REUSED`, else -1).
    pub from_frame: i64,
}

fn calibration_row(c: &CalibrationFrame) -> footml_calibration_row {
    let mut row = footml_calibration_row {
        frame: c.frame,
        image_to_pitch: [0.0; 9],
        source: FOOTML_CALIBRATION_UNKNOWN,
        keypoints: 0,
        inliers: 0,
        rms_error_m: f64::NAN,
        from_frame: -1,
    };
    for (out, v) in row.image_to_pitch.iter_mut().zip(c.image_to_pitch.iter().flatten()) {
        *out = *v;
    }
    match c.calibration {
        Some(Calibration::Given) => row.source = FOOTML_CALIBRATION_GIVEN,
        Some(Calibration::Keypoints { keypoints, inliers, rms_error_m }) => {
            (row.source, row.keypoints, row.inliers, row.rms_error_m) =
                (FOOTML_CALIBRATION_KEYPOINTS, keypoints, inliers, rms_error_m);
        }
        Some(Calibration::Reused { from_frame }) => {
            // Frame indices fit in i64 for any video that can exist (2^63 frames).
            (row.source, row.from_frame) = (FOOTML_CALIBRATION_REUSED, i64::try_from(from_frame).unwrap_or(i64::MAX));
        }
        None => {}
    }
    row
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
    calibration: Vec<footml_calibration_row>,
    last_error: LastError,
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
        let calibration = report.calibration.iter().map(calibration_row).collect();
        let last_error = LastError::default();
        Box::into_raw(Box::new(footml_report { report, json: OnceLock::new(), tracks, ball, calibration, last_error }))
    }
}

/// Runs `f` on a report argument inside the panic boundary, recording a failure as the
/// report's last error.
fn with_report(r: *const footml_report, f: impl FnOnce(&footml_report) -> Result<(), Failure>) -> footml_result {
    crate::panic::boundary(|| {
        if r.is_null() {
            return footml_result::FOOTML_ERR_NULL_POINTER;
        }
        // SAFETY: non-NULL, and a live report from this library by the caller's contract.
        let r = unsafe { &*r };
        r.last_error.record(f(r))
    })
}

/// The message of the last failed call on `report`, or NULL when none failed (or `report` is
/// NULL). Valid until the next failing call on it or `footml_report_free`.
///
/// # Safety
///
/// `report` must be NULL or a report from this library not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_report_last_error(report: *const footml_report) -> *const c_char {
    crate::panic::boundary(|| {
        if report.is_null() {
            return std::ptr::null();
        }
        // SAFETY: non-NULL and alive by the caller's contract.
        unsafe { &*report }.last_error.as_ptr()
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
    // SAFETY: the caller's contract is `table`'s.
    unsafe { table(report, rows_out, len_out, |r| &r.tracks) }
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
    // SAFETY: the caller's contract is `table`'s.
    unsafe { table(report, rows_out, len_out, |r| &r.ball) }
}

/// The calibration table: one row per calibrated frame, in frame order (empty when the run had
/// no pitch calibration). `*rows_out` points into the report (valid until
/// `footml_report_free`; NULL when there are no rows) and `*len_out` is the number of rows.
///
/// # Safety
///
/// `report` must be NULL or a report from this library not yet freed; `rows_out` and
/// `len_out` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_report_calibration(
    report: *const footml_report,
    rows_out: *mut *const footml_calibration_row,
    len_out: *mut usize,
) -> footml_result {
    // SAFETY: the caller's contract is `table`'s.
    unsafe { table(report, rows_out, len_out, |r| &r.calibration) }
}

/// A table accessor: checks the arguments and writes the table's pointer and length.
///
/// # Safety
///
/// `report` must be NULL or a report from this library not yet freed; `rows_out` and
/// `len_out` must be NULL or writable.
unsafe fn table<T>(
    report: *const footml_report,
    rows_out: *mut *const T,
    len_out: *mut usize,
    rows: fn(&footml_report) -> &[T],
) -> footml_result {
    with_report(report, |r| {
        non_null(rows_out, "rows_out")?;
        non_null(len_out, "len_out")?;
        // SAFETY: both non-NULL and writable by the caller's contract.
        unsafe { write_rows(rows(r), rows_out, len_out) };
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
