//! Every exported function with each of its pointer arguments NULL in turn (the others valid),
//! and each text argument invalid UTF-8: an error code or the documented no-op, never a crash.
//! The (function, argument) pairs come from include/footml.h, so a function added to the API
//! without its rows in [`null_call`] fails [`every_pointer_argument_of_the_header_is_tested`].
//! A scan of the sources checks that every exported body runs inside the panic boundary.

use std::collections::BTreeSet;
use std::ffi::{CStr, CString, c_char};
use std::ptr::{null, null_mut};

use crate::live::{footml_live_frame_possession, footml_possession};
use crate::result::footml_result::{self, *};
use crate::*;

/// What a call with one NULL argument did.
#[derive(Debug, PartialEq)]
enum Got {
    /// It returned this code.
    Code(footml_result),
    /// A `_free` or `_last_error` function: nothing happened / it returned NULL.
    Nothing,
}

/// `(function, argument)` pairs.
type Args = BTreeSet<(String, String)>;

/// The pointer parameters of each function the header declares, and of those the text inputs
/// (`const char *`).
fn header_pointer_args() -> (Args, Args) {
    let header = include_str!("../../include/footml.h");
    let start = header.find("extern \"C\" {").expect("the header's extern \"C\" block");
    let body = &header[start..];
    // Drop the doc comments, then read one declaration per `;`.
    let mut text = String::new();
    let mut rest = body;
    while let Some(i) = rest.find("/*") {
        text.push_str(&rest[..i]);
        rest = &rest[i + rest[i..].find("*/").expect("closed comment") + 2..];
    }
    text.push_str(rest);
    let (mut pointers, mut strings) = (BTreeSet::new(), BTreeSet::new());
    for decl in text.split(';') {
        let decl = decl.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join(" ");
        let Some(open) = decl.find('(') else { continue };
        let Some(name) = decl[..open].split_whitespace().last().map(|n| n.trim_start_matches('*')) else { continue };
        if !name.starts_with("footml_") {
            continue;
        }
        let params = &decl[open + 1..decl.rfind(')').expect("closing parenthesis")];
        for param in params.split(',').map(str::trim).filter(|p| *p != "void" && !p.is_empty()) {
            if !param.contains('*') {
                continue;
            }
            let arg = param.rsplit(|c: char| c == '*' || c.is_whitespace()).next().unwrap().to_string();
            if param.starts_with("const char *") && !param.starts_with("const char **") {
                strings.insert((name.to_string(), arg.clone()));
            }
            pointers.insert((name.to_string(), arg));
        }
    }
    (pointers, strings)
}

/// Objects to call functions on: a pipeline (not yet run), a report, a pixels session and a
/// detections session, all valid.
struct Fixture {
    _dir: tempfile::TempDir,
    config: CString,
    /// The report's JSON written to a file, for `footml_report_read`.
    report_path: CString,
    pipeline: *mut footml_pipeline,
    report: *mut footml_report,
    pixels: *mut footml_live,
    detections: *mut footml_live,
}

const PIXELS: &CStr = c"{\"fps\": 25, \"frame_size\": [4, 2], \"live\": {\"input\": \"pixels\"}}";
const DETECTIONS: &CStr = c"{\"fps\": 25, \"frame_size\": [64, 48], \"live\": {\"input\": \"detections\"}}";

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let det = dir.path().join("det.txt");
        std::fs::write(&det, "1,-1,10,10,20,40,0.9,-1,-1,-1\n2,-1,11,10,20,40,0.9,-1,-1,-1\n").unwrap();
        let config = serde_json::json!({"detections_path": det, "fps": 25, "frame_size": [64, 48]}).to_string();
        let config = CString::new(config).unwrap();
        let (mut pipeline, mut report, mut pixels, mut detections) = (null_mut(), null_mut(), null_mut(), null_mut());
        // SAFETY: valid strings and out-pointers; each object is freed once, in `drop`.
        unsafe {
            let mut ran = null_mut();
            assert_eq!(footml_pipeline_new(config.as_ptr(), &mut ran, null_mut()), FOOTML_OK);
            assert_eq!(footml_pipeline_run(ran, None, null_mut(), &mut report), FOOTML_OK);
            footml_pipeline_free(ran);
            let mut json = null();
            assert_eq!(footml_report_json(report, &mut json), FOOTML_OK);
            std::fs::write(dir.path().join("report.json"), CStr::from_ptr(json).to_bytes()).unwrap();
            assert_eq!(footml_pipeline_new(config.as_ptr(), &mut pipeline, null_mut()), FOOTML_OK);
            assert_eq!(footml_live_new(PIXELS.as_ptr(), None, null_mut(), &mut pixels, null_mut()), FOOTML_OK);
            assert_eq!(footml_live_new(DETECTIONS.as_ptr(), None, null_mut(), &mut detections, null_mut()), FOOTML_OK);
        }
        let report_path = CString::new(dir.path().join("report.json").to_str().unwrap()).unwrap();
        Fixture { _dir: dir, config, report_path, pipeline, report, pixels, detections }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // SAFETY: made in `new`, not freed elsewhere.
        unsafe {
            footml_pipeline_free(self.pipeline);
            footml_report_free(self.report);
            footml_live_free(self.pixels);
            footml_live_free(self.detections);
        }
    }
}

/// Calls `function` with `arg` NULL and every other argument valid; `None` for a pair this
/// test does not know (a new function or argument: add its row here).
fn null_call(fx: &Fixture, function: &str, arg: &str) -> Option<Got> {
    use Got::*;
    let (config, p, r, live, dets) = (fx.config.as_ptr(), fx.pipeline, fx.report, fx.pixels, fx.detections);
    let (mut text, mut error, mut pipeline, mut report, mut session) =
        (null_mut::<c_char>(), null_mut::<c_char>(), null_mut(), null_mut(), null_mut());
    let (mut json, mut len, mut index, mut role) = (null::<c_char>(), 0usize, 0u64, 0i32);
    let report_path = fx.report_path.as_ptr();
    let (mut tracks, mut ball, mut balls, mut calibration) = (null(), null(), null(), null());
    let mut possession = footml_possession { estimated: 0, team: 0, track_id: 0 };
    let pixel = [0u8; 4 * 2 * 3];
    let player = footml_detection { x: 1.0, y: 1.0, w: 5.0, h: 10.0, score: 0.9, class_id: 0 };
    let team = 1i32;
    let frame = footml_yuv420_frame {
        planes: [null(); 3],
        lens: [0; 3],
        strides: [4, 2, 2],
        width: 4,
        height: 2,
        matrix: FOOTML_YUV_BT601,
        full_range: 0,
        timestamp_s: 0.0,
    };
    // Strings footml hands out through out-parameters in the calls below, freed at the end.
    let free = |s: *mut c_char| {
        // SAFETY: NULL or a string footml returned.
        unsafe { footml_string_free(s) }
    };
    // SAFETY: every pointer is valid except the one under test, which is NULL; no call with an
    // invalid argument returns an object (each such object is freed below regardless).
    let got = unsafe {
        match (function, arg) {
            ("footml_analyze_json", "config_json") => Code(footml_analyze_json(null(), &mut text, &mut error)),
            ("footml_analyze_json", "report_json_out") => Code(footml_analyze_json(config, null_mut(), &mut error)),
            // error_out is optional: the run goes on and succeeds.
            ("footml_analyze_json", "error_out") => Code(footml_analyze_json(config, &mut text, null_mut())),
            ("footml_pipeline_new", "config_json") => Code(footml_pipeline_new(null(), &mut pipeline, &mut error)),
            ("footml_pipeline_new", "pipeline_out") => Code(footml_pipeline_new(config, null_mut(), &mut error)),
            ("footml_pipeline_new", "error_out") => Code(footml_pipeline_new(config, &mut pipeline, null_mut())),
            ("footml_pipeline_run", "pipeline") => Code(footml_pipeline_run(null(), None, null_mut(), &mut report)),
            // userdata is the caller's: NULL is a value like any other (the run succeeds).
            ("footml_pipeline_run", "userdata") => {
                let mut fresh = null_mut();
                assert_eq!(footml_pipeline_new(config, &mut fresh, null_mut()), FOOTML_OK);
                let rc = footml_pipeline_run(fresh, None, null_mut(), &mut report);
                footml_pipeline_free(fresh);
                Code(rc)
            }
            ("footml_pipeline_run", "report_out") => Code(footml_pipeline_run(p, None, null_mut(), null_mut())),
            ("footml_pipeline_cancel", "pipeline") => Code(footml_pipeline_cancel(null())),
            ("footml_pipeline_last_error", "pipeline") => {
                assert!(footml_pipeline_last_error(null()).is_null());
                Nothing
            }
            ("footml_pipeline_free", "pipeline") => {
                footml_pipeline_free(null_mut());
                Nothing
            }
            ("footml_report_json", "report") => Code(footml_report_json(null(), &mut json)),
            ("footml_report_json", "json_out") => Code(footml_report_json(r, null_mut())),
            ("footml_report_tracks", "report") => Code(footml_report_tracks(null(), &mut tracks, &mut len)),
            ("footml_report_tracks", "rows_out") => Code(footml_report_tracks(r, null_mut(), &mut len)),
            ("footml_report_tracks", "len_out") => Code(footml_report_tracks(r, &mut tracks, null_mut())),
            ("footml_report_ball", "report") => Code(footml_report_ball(null(), &mut balls, &mut len)),
            ("footml_report_ball", "rows_out") => Code(footml_report_ball(r, null_mut(), &mut len)),
            ("footml_report_ball", "len_out") => Code(footml_report_ball(r, &mut balls, null_mut())),
            ("footml_report_calibration", "report") => {
                Code(footml_report_calibration(null(), &mut calibration, &mut len))
            }
            ("footml_report_calibration", "rows_out") => Code(footml_report_calibration(r, null_mut(), &mut len)),
            ("footml_report_calibration", "len_out") => {
                Code(footml_report_calibration(r, &mut calibration, null_mut()))
            }
            ("footml_report_read", "path") => Code(footml_report_read(null(), &mut report, &mut error)),
            ("footml_report_read", "report_out") => Code(footml_report_read(report_path, null_mut(), &mut error)),
            ("footml_report_read", "error_out") => Code(footml_report_read(report_path, &mut report, null_mut())),
            ("footml_report_track_role", "report") => Code(footml_report_track_role(null(), 1, &mut role)),
            ("footml_report_track_role", "role_out") => Code(footml_report_track_role(r, 1, null_mut())),
            ("footml_report_last_error", "report") => {
                assert!(footml_report_last_error(null()).is_null());
                Nothing
            }
            ("footml_report_free", "report") => {
                footml_report_free(null_mut());
                Nothing
            }
            ("footml_live_new", "config_json") => {
                Code(footml_live_new(null(), None, null_mut(), &mut session, &mut error))
            }
            ("footml_live_new", "userdata") => {
                Code(footml_live_new(DETECTIONS.as_ptr(), None, null_mut(), &mut session, &mut error))
            }
            ("footml_live_new", "live_out") => {
                Code(footml_live_new(DETECTIONS.as_ptr(), None, null_mut(), null_mut(), &mut error))
            }
            ("footml_live_new", "error_out") => {
                Code(footml_live_new(DETECTIONS.as_ptr(), None, null_mut(), &mut session, null_mut()))
            }
            ("footml_live_push_rgb", "live") => {
                Code(footml_live_push_rgb(null(), pixel.as_ptr(), pixel.len(), 4, 2, 12, FOOTML_PIXEL_RGB24, 0.0))
            }
            ("footml_live_push_rgb", "data") => {
                Code(footml_live_push_rgb(live, null(), pixel.len(), 4, 2, 12, FOOTML_PIXEL_RGB24, 0.0))
            }
            ("footml_live_push_yuv420", "live") => Code(footml_live_push_yuv420(null(), &frame)),
            ("footml_live_push_yuv420", "frame") => Code(footml_live_push_yuv420(live, null())),
            ("footml_live_push_detections", "live") => {
                Code(footml_live_push_detections(null(), &player, 1, null(), 0, 0.0))
            }
            // NULL with a count is an error; NULL for no detections is fine (below).
            ("footml_live_push_detections", "players") => {
                Code(footml_live_push_detections(dets, null(), 1, null(), 0, 0.0))
            }
            // NULL ball = no ball candidates in this frame: the push succeeds.
            ("footml_live_push_detections", "ball") => {
                Code(footml_live_push_detections(dets, &player, 1, null(), 0, 0.0))
            }
            ("footml_live_push_detections_teams", "live") => {
                Code(footml_live_push_detections_teams(null(), &player, 1, &team, 1, null(), 0, 0.0))
            }
            ("footml_live_push_detections_teams", "players") => {
                Code(footml_live_push_detections_teams(dets, null(), 1, &team, 1, null(), 0, 0.0))
            }
            // NULL with a count is an error (NULL with 0: no teams, tested in live.rs).
            ("footml_live_push_detections_teams", "teams") => {
                Code(footml_live_push_detections_teams(dets, &player, 1, null(), 1, null(), 0, 0.0))
            }
            // After the push of ("footml_live_push_detections", "ball") at 0 s: a later time.
            ("footml_live_push_detections_teams", "ball") => {
                Code(footml_live_push_detections_teams(dets, &player, 1, &team, 1, null(), 0, 1.0))
            }
            ("footml_live_frame_tracks", "live") => Code(footml_live_frame_tracks(null(), &mut tracks, &mut len)),
            ("footml_live_frame_tracks", "rows_out") => Code(footml_live_frame_tracks(dets, null_mut(), &mut len)),
            ("footml_live_frame_tracks", "len_out") => Code(footml_live_frame_tracks(dets, &mut tracks, null_mut())),
            ("footml_live_frame_ball", "live") => Code(footml_live_frame_ball(null(), &mut ball)),
            ("footml_live_frame_ball", "ball_out") => Code(footml_live_frame_ball(dets, null_mut())),
            ("footml_live_frame_possession", "live") => Code(footml_live_frame_possession(null(), &mut possession)),
            ("footml_live_frame_possession", "possession_out") => Code(footml_live_frame_possession(dets, null_mut())),
            ("footml_live_next_index", "live") => Code(footml_live_next_index(null(), &mut index)),
            ("footml_live_next_index", "index_out") => Code(footml_live_next_index(dets, null_mut())),
            ("footml_live_finish", "live") => Code(footml_live_finish(null(), &mut report)),
            ("footml_live_finish", "report_out") => Code(footml_live_finish(dets, null_mut())),
            ("footml_live_cancel", "live") => Code(footml_live_cancel(null())),
            ("footml_live_last_error", "live") => {
                assert!(footml_live_last_error(null()).is_null());
                Nothing
            }
            ("footml_live_free", "live") => {
                footml_live_free(null_mut());
                Nothing
            }
            ("footml_string_free", "s") => {
                footml_string_free(null_mut());
                Nothing
            }
            _ => return None,
        }
    };
    free(text);
    free(error);
    // SAFETY: NULL or objects the calls above made; freed once.
    unsafe {
        footml_pipeline_free(pipeline);
        footml_report_free(report);
        footml_live_free(session);
    }
    Some(got)
}

/// What a NULL `arg` of `function` must give: a no-op for `_free`/`_last_error`, success for
/// the optional arguments, `FOOTML_ERR_NULL_POINTER` for every other one.
fn expected(function: &str, arg: &str) -> Got {
    if function.ends_with("_free") || function.ends_with("_last_error") {
        Got::Nothing
    } else if matches!(arg, "error_out" | "userdata" | "ball") {
        Got::Code(FOOTML_OK)
    } else {
        Got::Code(FOOTML_ERR_NULL_POINTER)
    }
}

#[test]
fn every_pointer_argument_of_the_header_is_tested() {
    let (pointers, _) = header_pointer_args();
    // Sanity: the parse found the API (a broken parse must not pass vacuously).
    assert!(pointers.len() >= 45, "{pointers:?}");
    assert!(pointers.contains(&("footml_live_push_yuv420".to_string(), "frame".to_string())));
    let fx = Fixture::new();
    let mut failures = Vec::new();
    for (function, arg) in &pointers {
        match null_call(&fx, function, arg) {
            None => failures.push(format!(
                "{function}({arg} = NULL) has no case: add it to `null_call` in footml-capi/src/abi_tests.rs"
            )),
            Some(got) if got != expected(function, arg) => {
                failures.push(format!("{function}({arg} = NULL): {got:?}, want {:?}", expected(function, arg)))
            }
            Some(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn null_planes_of_a_yuv_frame_are_null_pointer_errors() {
    let fx = Fixture::new();
    let (y, uv) = ([16u8; 8], [128u8; 2]);
    let mut frame = footml_yuv420_frame {
        planes: [y.as_ptr(), uv.as_ptr(), uv.as_ptr()],
        lens: [8, 2, 2],
        strides: [4, 2, 2],
        width: 4,
        height: 2,
        matrix: FOOTML_YUV_BT601,
        full_range: 0,
        timestamp_s: 0.0,
    };
    for i in 0..3 {
        let mut f = frame;
        f.planes[i] = null();
        // SAFETY: a live session and a readable frame whose non-NULL planes hold `lens` bytes.
        assert_eq!(unsafe { footml_live_push_yuv420(fx.pixels, &f) }, FOOTML_ERR_NULL_POINTER, "plane {i}");
        // SAFETY: the session is alive; the message is read before the next call.
        let message = unsafe { CStr::from_ptr(footml_live_last_error(fx.pixels)) };
        assert!(message.to_str().unwrap().contains(&format!("planes[{i}]")), "{message:?}");
    }
    // The same frame with all planes pushes.
    frame.timestamp_s = 0.04;
    // SAFETY: as above, all planes valid.
    assert_eq!(unsafe { footml_live_push_yuv420(fx.pixels, &frame) }, FOOTML_OK);
}

/// Calls `function` with invalid UTF-8 as its text argument `arg`.
fn invalid_utf8_call(function: &str, arg: &str) -> Option<footml_result> {
    let bad = c"{\"fps\": \xff}".as_ptr();
    let (mut text, mut error, mut pipeline, mut session) = (null_mut(), null_mut(), null_mut(), null_mut());
    let mut report = null_mut();
    // SAFETY: valid out-pointers; the text is NUL-terminated. Whatever comes out is freed.
    unsafe {
        let rc = match (function, arg) {
            ("footml_analyze_json", "config_json") => footml_analyze_json(bad, &mut text, &mut error),
            ("footml_pipeline_new", "config_json") => footml_pipeline_new(bad, &mut pipeline, &mut error),
            ("footml_live_new", "config_json") => footml_live_new(bad, None, null_mut(), &mut session, &mut error),
            ("footml_report_read", "path") => footml_report_read(bad, &mut report, &mut error),
            _ => return None,
        };
        assert!(!error.is_null() && CStr::from_ptr(error).to_str().unwrap().contains("UTF-8"));
        footml_string_free(text);
        footml_string_free(error);
        footml_pipeline_free(pipeline);
        footml_live_free(session);
        footml_report_free(report);
        Some(rc)
    }
}

#[test]
fn every_text_argument_rejects_invalid_utf8() {
    let (_, strings) = header_pointer_args();
    assert_eq!(strings.len(), 4, "{strings:?}");
    for (function, arg) in &strings {
        let got = invalid_utf8_call(function, arg)
            .unwrap_or_else(|| panic!("{function}({arg}): no invalid UTF-8 case in footml-capi/src/abi_tests.rs"));
        assert_eq!(got, FOOTML_ERR_INVALID_UTF8, "{function}({arg})");
    }
}

/// Every `extern "C"` body starts inside the panic boundary: `panic::boundary` itself or a
/// helper that runs its closure inside it.
#[test]
fn every_exported_body_runs_inside_the_panic_boundary() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut exported = 0;
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, _) in text.match_indices("extern \"C\" fn ") {
            let after = &text[i..];
            let name: String = after["extern \"C\" fn ".len()..].chars().take_while(|c| *c != '(').collect();
            // The body: after the signature's `{` (the first `{` at the end of a line).
            let open = after.find("{\n").unwrap_or_else(|| panic!("{}: {name} has no body", path.display()));
            // Items before the first statement (`static VERSION: ...;`) are not calls.
            let mut body = after[open + 1..].trim_start();
            // and comments (`// SAFETY: ...`) are not statements either.
            loop {
                if body.starts_with("static ") || body.starts_with("const ") {
                    body = body[body.find(";\n").unwrap() + 1..].trim_start();
                } else if body.starts_with("//") {
                    body = body[body.find('\n').unwrap()..].trim_start();
                } else {
                    break;
                }
            }
            let guarded =
                ["crate::panic::boundary(", "panic::boundary(", "with_live(", "with_report(", "unsafe { table("]
                    .iter()
                    .any(|p| body.starts_with(p));
            assert!(guarded, "{}: `{name}` does not start inside the panic boundary", path.display());
            exported += 1;
        }
    }
    assert!(exported >= 25, "found only {exported} exported functions");
}

#[test]
fn a_panic_becomes_a_code_and_a_null_string() {
    assert_eq!(crate::panic::boundary(|| -> footml_result { panic!("a bug") }), FOOTML_ERR_PANIC);
    assert!(crate::panic::boundary(|| -> *const c_char { panic!("a bug") }).is_null());
}
