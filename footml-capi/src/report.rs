//! The match report as C sees it: JSON, and the per-frame tables as arrays of rows.

use std::ffi::{CString, c_char};
use std::path::Path;
use std::sync::OnceLock;

use footml::analysis::Role;
use footml::report::{CalibrationFrame, MatchReport, ReportError};
use footml::{BallObservation, BallState, Calibration, Error, ErrorKind};

use crate::error::{Failure, LastError, fail, invalid, non_null};
use crate::result::footml_result;
use crate::string::str_arg;

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

/// `footml_report_track_role`: an outfield player.
pub const FOOTML_ROLE_PLAYER: i32 = 0;
/// `footml_report_track_role`: a goalkeeper (kit unlike the team's, assigned to a team by
/// position).
pub const FOOTML_ROLE_GOALKEEPER: i32 = 1;
/// `footml_report_track_role`: a referee or assistant referee (in no team).
pub const FOOTML_ROLE_REFEREE: i32 = 2;
/// `footml_report_track_role`: team classification ran but could not decide (too few
/// samples, a kit that matches nobody).
pub const FOOTML_ROLE_UNDECIDED: i32 = 3;
/// `footml_report_track_role`: the report has no role for the track (no team classification
/// ran; a report written without roles).
pub const FOOTML_ROLE_NONE: i32 = -1;

/// The C value of a track's role.
fn role_code(role: Option<Role>) -> i32 {
    match role {
        None => FOOTML_ROLE_NONE,
        Some(Role::Player) => FOOTML_ROLE_PLAYER,
        Some(Role::Goalkeeper) => FOOTML_ROLE_GOALKEEPER,
        Some(Role::Referee) => FOOTML_ROLE_REFEREE,
        Some(Role::Unknown) => FOOTML_ROLE_UNDECIDED,
    }
}

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
    /// `(track_id, FOOTML_ROLE_*)`, sorted by track id for `footml_report_track_role`'s binary
    /// search (a caller asks once per track row: millions of times for a full match).
    roles: Vec<(u64, i32)>,
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
        let mut roles: Vec<(u64, i32)> = report.tracks.iter().map(|t| (t.track_id, role_code(t.role))).collect();
        roles.sort_unstable();
        let last_error = LastError::default();
        let json = OnceLock::new();
        Box::into_raw(Box::new(footml_report { report, json, tracks, ball, calibration, roles, last_error }))
    }
}

/// The code for a failure of `MatchReport::read_json`, finer than [`footml_result::from_error`]
/// for the files a report reader meets: a missing `report.json` is `NOT_FOUND` like a missing
/// table (the core calls it an I/O error), and a file that is not a report, or a table that is
/// not its table, is `INPUT` (the file exists but is not what it should be), not `STAGE`/`IO`.
fn read_failure(e: Error) -> Failure {
    let code = match &e {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            footml_result::FOOTML_ERR_NOT_FOUND
        }
        Error::Report(ReportError::BadTable { .. } | ReportError::BadReport { .. }) => footml_result::FOOTML_ERR_INPUT,
        // `read_json`'s only permanent error of its own: the JSON is not a footml report.
        _ if e.kind() == ErrorKind::Stage => footml_result::FOOTML_ERR_INPUT,
        _ => return fail(e),
    };
    (code, e.to_string())
}

/// Reads a report written by footml (`report.json` from the CLI, `footml_analyze_json`'s
/// text saved to a file, a pipeline's `output_dir`), with its per-frame tables inline or in
/// the Parquet files beside it that it names (`report_tables: "parquet"`). `*report_out` is set
/// to NULL first and receives the report on success (free it with `footml_report_free`).
/// Fails with `FOOTML_ERR_NOT_FOUND` when `path` or a table it names does not exist,
/// `FOOTML_ERR_INPUT` when the file is not a footml report or a table is not that table,
/// `FOOTML_ERR_IO` when a file cannot be read. On failure `*error_out`, when `error_out` is not
/// NULL, receives the message naming the file; free it with `footml_string_free`.
///
/// # Safety
///
/// `path` must be NULL or NUL-terminated; `report_out` and `error_out` must be NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_report_read(
    path: *const c_char,
    report_out: *mut *mut footml_report,
    error_out: *mut *mut c_char,
) -> footml_result {
    crate::panic::boundary(|| {
        // SAFETY: out-pointers are NULL or writable by the caller's contract.
        unsafe { crate::string::clear_out(report_out, error_out) };
        let outcome = (|| -> Result<*mut footml_report, Failure> {
            non_null(report_out, "report_out")?;
            // SAFETY: NULL or NUL-terminated by the caller's contract, read during this call.
            let path = unsafe { str_arg(path, "path") }?;
            let report = MatchReport::read_json(Path::new(path)).map_err(read_failure)?;
            Ok(footml_report::boxed(report))
        })();
        // SAFETY: out-pointers are NULL or writable by the caller's contract.
        unsafe { crate::string::finish_new(outcome, report_out, error_out) }
    })
}

/// The role of track `track_id` (`FOOTML_ROLE_PLAYER`, `_GOALKEEPER`, `_REFEREE`, `_UNDECIDED`,
/// or `FOOTML_ROLE_NONE` when the report has no role for it) into `*role_out`. A role is one
/// per track, like its team, so it is not repeated in every `footml_track_row`. A track id
/// the report does not have is `FOOTML_ERR_INVALID_ARGUMENT`.
///
/// # Safety
///
/// `report` must be NULL or a report from this library not yet freed; `role_out` must be NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_report_track_role(
    report: *const footml_report,
    track_id: u64,
    role_out: *mut i32,
) -> footml_result {
    with_report(report, |r| {
        non_null(role_out, "role_out")?;
        let i = r
            .roles
            .binary_search_by_key(&track_id, |&(id, _)| id)
            .map_err(|_| invalid(format!("the report has no track {track_id}")))?;
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { *role_out = r.roles[i].1 };
        Ok(())
    })
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
