//! The `footml` command line: errors, output files, and resume after `kill -9`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::fixture;

pub(crate) fn footml() -> Command {
    Command::new(env!("CARGO_BIN_EXE_footml"))
}

fn detections_args(out: &Path) -> Vec<String> {
    vec![
        "analyze".into(),
        "--detections".into(),
        fixture("det.txt").display().to_string(),
        "--homography".into(),
        fixture("homography.json").display().to_string(),
        "--fps".into(),
        "25".into(),
        "--frame-size".into(),
        "1920x1080".into(),
        "--out".into(),
        out.display().to_string(),
    ]
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs footml and expects failure with exactly one line on stderr containing `want`.
pub(crate) fn fails_with(args: &[&str], want: &str) {
    let o = footml().args(args).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    // Progress lines may come first; the error is one line, the last.
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert_eq!(err.matches("footml: error").count(), 1, "one error line expected: {err}");
    assert!(last.starts_with("footml: error: ") && last.contains(want), "{err}");
}

#[test]
fn version_and_usage() {
    let o = footml().arg("--version").output().unwrap();
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), format!("footml {}", footml::VERSION));
    let o = footml().args(["analyze", "--frame-size", "big"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "usage errors exit with 2");
}

#[test]
fn bad_inputs_give_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.json");
    std::fs::write(&cfg, r#"{"stage_configs": {"video_decoding": {"target_fsp": 25}}}"#).unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    fails_with(
        &["analyze", "x.mp4", "--config", cfg.to_str().unwrap(), "--out", out],
        "unknown config key `stage_configs.video_decoding.target_fsp`",
    );
    fails_with(
        &["analyze", "--detections", "/nonexistent/d.txt", "--fps", "25", "--frame-size", "640x480", "--out", out],
        "detections file not found: /nonexistent/d.txt",
    );
    fails_with(&["analyze", "--detections", "d.txt", "--out", out], "both set for a detections input");
    fails_with(&["analyze", "--config", "/nonexistent/c.json", "--out", out], "/nonexistent/c.json");
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "1,-1,1,2,3,4,0.9\nnot,a,detection\n").unwrap();
    fails_with(
        &["analyze", "--detections", bad.to_str().unwrap(), "--fps", "25", "--frame-size", "640x480", "--out", out],
        "bad.txt:2:",
    );
}

fn read_report(dir: &Path) -> serde_json::Value {
    let mut r: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    // Timings differ between runs; everything else must not.
    for s in r["stages"].as_array_mut().unwrap() {
        s["duration_s"] = serde_json::json!(0);
    }
    r
}

fn chunk_files(dir: &Path) -> usize {
    fn walk(d: &Path, n: &mut usize) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, n);
            } else if p.extension().is_some_and(|x| x == "ckpt") && p.parent().is_some_and(|d| d.ends_with("stream")) {
                *n += 1;
            }
        }
    }
    let mut n = 0;
    walk(dir, &mut n);
    n
}

#[test]
fn killed_run_resumes_to_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean");
    let o = footml().args(detections_args(&clean)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!clean.join("checkpoints").exists(), "checkpoints are removed after success");

    // The same analysis, read at 250 frames/s (4 s for 1000 frames), killed with SIGKILL
    // once a few chunks are on disk.
    let killed: PathBuf = dir.path().join("killed");
    let mut args = detections_args(&killed);
    args.extend(["--checkpoint-interval", "50", "--realtime", "10"].map(String::from));
    let mut child = footml().args(&args).spawn().unwrap();
    let start = Instant::now();
    while chunk_files(&killed.join("checkpoints")) < 3 {
        assert!(start.elapsed() < Duration::from_secs(60), "no checkpoints appeared");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no cleanup of any kind.
    child.wait().unwrap();
    assert!(!killed.join("report.json").exists());

    let mut resume = detections_args(&killed);
    resume.extend(["--checkpoint-interval", "50", "--resume"].map(String::from));
    let o = footml().args(&resume).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_report(&killed), read_report(&clean));
    assert_eq!(std::fs::read(killed.join("tracks.txt")).unwrap(), std::fs::read(clean.join("tracks.txt")).unwrap());

    // The event log shows the resumed run starting after the checkpointed frames.
    let events = std::fs::read_to_string(killed.join("events.jsonl")).unwrap();
    let resumed_from: Vec<u64> = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["type"] == "stage_started" && e["stage"] == "player_tracking")
        .map(|e| e["from_frame"].as_u64().unwrap())
        .collect();
    assert_eq!(resumed_from.len(), 2, "{resumed_from:?}");
    assert_eq!(resumed_from[0], 0);
    assert!(resumed_from[1] >= 150 && resumed_from[1].is_multiple_of(50), "{resumed_from:?}");
}

#[test]
fn outputs_follow_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let o = footml().args(detections_args(&out)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("report.json") && stdout.contains("1000 frames"), "{stdout}");
    let r = read_report(&out);
    assert_eq!(r["schema_version"], 2);
    assert_eq!(r["video"]["frame_count"], 1000);
    assert_eq!(r["video"]["fps"], 25.0);
    let names: Vec<&str> = r["stages"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        vec!["detections_input", "pitch_calibration", "player_tracking", "formation_analysis", "metrics"]
    );
    // Calibrated tracks get physical metrics, one entry per track.
    assert_eq!(r["metrics"]["players"].as_array().unwrap().len(), r["tracks"].as_array().unwrap().len());
    // Every tracked box has a pitch position inside the pitch (with run-off).
    for t in r["tracks"].as_array().unwrap() {
        for f in t["frames"].as_array().unwrap() {
            let p = f["pitch"].as_array().expect("calibrated frames have pitch positions");
            let (x, y) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
            assert!(x.abs() < 60.0 && y.abs() < 40.0, "({x}, {y})");
        }
    }
    // tracks.txt is MOTChallenge: frame from 1, 10 columns, sorted by frame.
    let tracks = std::fs::read_to_string(out.join("tracks.txt")).unwrap();
    let mut last = 0;
    for line in tracks.lines() {
        let cols: Vec<&str> = line.split(',').collect();
        assert_eq!(cols.len(), 10, "{line}");
        let frame: u64 = cols[0].parse().unwrap();
        assert!(frame >= 1 && frame >= last);
        last = frame;
    }
    let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    assert!(events.lines().last().unwrap().contains("\"type\":\"pipeline_completed\""));
}

/// The pitch keypoint model from `--keypoint-model` or `KEYPOINT_MODEL_PATH`: a missing file
/// or a file that is no ONNX model is a one-line error naming that file; the flag replaces
/// the environment's model, and `--homography` replaces both.
#[test]
fn keypoint_model_flag_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let not_onnx = dir.path().join("pitch.onnx");
    std::fs::write(&not_onnx, "not a model\n").unwrap();
    // The detections run of `detections_args` without its homography.
    let mut args = detections_args(&out);
    args.drain(3..5);
    let run = |extra: &[&str], env: Option<&str>| {
        let mut cmd = footml();
        cmd.args(&args).args(extra).env_remove("KEYPOINT_MODEL_PATH");
        if let Some(path) = env {
            cmd.env("KEYPOINT_MODEL_PATH", path);
        }
        cmd.output().unwrap()
    };
    let one_error = |o: &Output, want: &[&str]| {
        let err = stderr(o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        let last = err.trim_end().lines().last().unwrap_or_default();
        assert_eq!(err.matches("footml: error").count(), 1, "{err}");
        assert!(want.iter().all(|w| last.contains(w)), "{want:?} in {err}");
    };
    let not_onnx = not_onnx.to_str().unwrap();
    one_error(&run(&["--keypoint-model", "/nonexistent/pitch.onnx"], None), &["/nonexistent/pitch.onnx", "not found"]);
    one_error(&run(&["--keypoint-model", not_onnx], None), &[not_onnx, "is not an ONNX model"]);
    one_error(&run(&[], Some("/nonexistent/env.onnx")), &["/nonexistent/env.onnx", "not found"]);
    one_error(&run(&["--keypoint-model", not_onnx], Some("/nonexistent/env.onnx")), &[not_onnx]);
    // Both flags: a usage error.
    let o = run(&["--keypoint-model", not_onnx, "--homography", "h.json"], None);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // --homography wins over the environment's model: every frame calibrated by the file.
    let homography = fixture("homography.json").display().to_string();
    let o = run(&["--homography", &homography], Some("/nonexistent/env.onnx"));
    assert!(o.status.success(), "{}", stderr(&o));
    let report = read_report(&out);
    let rows = report["calibration"].as_array().unwrap();
    assert_eq!(rows.len(), 1000);
    assert!(rows.iter().all(|r| r["source"] == "given"), "{:?}", rows[0]);
}

/// `report_tables: "parquet"` in the config: report.json without the per-frame rows, a small
/// fraction of the inline one's size, with one Parquet file per table beside it (tracks.parquet
/// holds one row per track box of the inline report); both read back to the same report, under
/// the same pipeline id, and `render-report` draws the same pictures from either.
#[test]
fn parquet_report_tables_read_back_to_the_inline_report() {
    let dir = tempfile::tempdir().unwrap();
    let (inline, tables) = (dir.path().join("inline"), dir.path().join("tables"));
    // With the ball (the fixture's is 1–2 px in radius): the ball, possession and events
    // sections are filled too.
    let ball = r#""stage_configs": {"ball_tracking": {"min_ball_radius": 0.5, "max_ball_radius": 10}}"#;
    let (plain, parquet) = (dir.path().join("inline.json"), dir.path().join("parquet.json"));
    std::fs::write(&plain, format!("{{{ball}}}")).unwrap();
    std::fs::write(&parquet, format!(r#"{{{ball}, "report_tables": "parquet"}}"#)).unwrap();
    for (out, config) in [(&inline, &plain), (&tables, &parquet)] {
        let o = footml()
            .args(detections_args(out))
            .arg("--ball-detections")
            .arg(fixture("ball_det.txt"))
            .arg("--config")
            .arg(config)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }

    let read = |d: &Path| {
        let mut r = footml::MatchReport::read_json(&d.join("report.json")).unwrap();
        // Timings differ between runs; everything else must not.
        r.stages.iter_mut().for_each(|s| s.duration_s = 0.0);
        r
    };
    let (a, b) = (read(&inline), read(&tables));
    let boxes: usize = a.tracks.iter().map(|t| t.frames.len()).sum();
    assert!(boxes > 10_000 && a.calibration.len() == 1000 && a.ball.len() > 500, "{boxes} {}", a.ball.len());
    assert_eq!(a.possession.len(), 1000);
    assert_eq!(a, b);
    assert_eq!(std::fs::read(inline.join("tracks.txt")).unwrap(), std::fs::read(tables.join("tracks.txt")).unwrap());

    let head = read_report(&tables);
    assert_eq!(head["tables"]["tracks"], "tracks.parquet");
    let rows = |name: &str| {
        use parquet::file::reader::FileReader;
        let f = std::fs::File::open(tables.join(name)).unwrap();
        parquet::file::serialized_reader::SerializedFileReader::new(f).unwrap().metadata().file_metadata().num_rows()
    };
    assert_eq!(rows("tracks.parquet") as usize, boxes);
    assert_eq!(rows("ball.parquet") as usize, a.ball.len());
    assert_eq!(rows("calibration.parquet"), 1000);
    assert_eq!(rows("possession.parquet"), 1000);
    let size = |p: PathBuf| std::fs::metadata(p).unwrap().len() as f64;
    let (json_inline, json_tables) = (size(inline.join("report.json")), size(tables.join("report.json")));
    let table_bytes: f64 = ["tracks", "ball", "possession", "calibration", "frame_extra"]
        .iter()
        .map(|t| size(tables.join(format!("{t}.parquet"))))
        .sum();
    eprintln!("report.json inline {json_inline} B; with tables {json_tables} B + tables {table_bytes} B");
    // Measured: 4.95 MB inline; 254 kB (19.5× less: per-player heatmaps and events, which do
    // not grow with the frames) + 688 kB of tables (7.2× less).
    assert!(json_tables * 10.0 < json_inline, "{json_tables} vs {json_inline}");
    assert!(table_bytes * 4.0 < json_inline, "{table_bytes} vs {json_inline}");

    // The pictures of either form are the same files.
    let pictures = |d: &Path| {
        let out = d.join("pics");
        let o = footml()
            .arg("render-report")
            .arg(d.join("report.json"))
            .args(["--no-radar-video", "--scale", "2", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let (mut files, mut dirs) = (Vec::new(), vec![out.clone()]);
        while let Some(d) = dirs.pop() {
            for p in std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().path()) {
                if p.is_dir() {
                    dirs.push(p);
                } else {
                    files.push((p.strip_prefix(&out).unwrap().to_path_buf(), std::fs::read(&p).unwrap()));
                }
            }
        }
        files.sort();
        files
    };
    let (pa, pb) = (pictures(&inline), pictures(&tables));
    assert!(pa.len() > 3, "{}", pa.len());
    assert!(pa == pb, "the pictures differ");

    // A missing table: a one-line error naming the file.
    std::fs::remove_file(tables.join("ball.parquet")).unwrap();
    let report = tables.join("report.json").display().to_string();
    fails_with(&["render-report", &report, "--no-radar-video"], "ball.parquet does not exist");
}
