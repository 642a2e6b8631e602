//! Player detection through the command line: execution providers (a demanded GPU that is
//! missing fails; a preferred one falls back to the CPU with a warning event) and the
//! detection stride (the tracker fills the frames in between).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::{fails_with, footml};
use crate::common::root;

fn default_model() -> PathBuf {
    let p = root().join(".venv/lib/python3.11/site-packages/fall_detection/models/best_fp16.onnx");
    assert!(p.exists(), "{} is missing: run scripts/setup.sh", p.display());
    p
}

/// `frames` frames at 5 fps of a still person photo (public domain, fetched by setup.sh) on
/// a green 640×360 background.
fn person_video(dir: &Path, frames: u32) -> PathBuf {
    let jpg = root().join("data/fixtures/grace_hopper.jpg");
    assert!(jpg.exists(), "{} is missing: run scripts/setup.sh", jpg.display());
    let video = dir.join("person.mp4");
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "color=c=0x3c783c:s=640x360:r=5:d=4", "-i"])
        .arg(&jpg)
        .args(["-filter_complex", "[1]scale=128:150[p];[0][p]overlay=256:105", "-c:v", "libx264"])
        .args(["-pix_fmt", "yuv420p", "-frames:v", &frames.to_string()])
        .arg(&video)
        .status()
        .expect("run ffmpeg");
    assert!(st.success());
    video
}

/// `footml analyze VIDEO --model <default model> --config CFG --out OUT`.
fn analyze_with_model(video: &Path, cfg: &Path, out: &Path) -> Command {
    let mut cmd = footml();
    cmd.arg("analyze").arg(video).arg("--model").arg(default_model()).arg("--config").arg(cfg).arg("--out").arg(out);
    cmd
}

/// The report in `out` has one track: the one still person of [`person_video`].
fn assert_one_track(out: &Path) {
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["tracks"].as_array().map(Vec::len), Some(1), "{}", report["tracks"]);
}

/// The one-line error of a failed run (exit code 1, one `footml: error` line, the last).
fn error_line(o: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.matches("footml: error").count(), 1, "{err}");
    err.trim_end().lines().last().unwrap_or_default().to_string()
}

/// Reason the CUDA provider is missing in this build with the CPU `onnxruntime` wheel.
fn cuda_missing() -> &'static str {
    if cfg!(feature = "cuda") { "has no CUDAExecutionProvider" } else { "built without the `cuda` cargo feature" }
}

#[test]
fn demanded_gpu_fails_and_preferred_gpu_falls_back_with_a_warning_event() {
    let dir = tempfile::tempdir().unwrap();
    let video = person_video(dir.path(), 2);
    let (video, model) = (video.to_str().unwrap(), default_model());
    let model = model.to_str().unwrap();
    let out = dir.path().join("out");
    let out_s = out.to_str().unwrap();
    let demand = ["analyze", video, "--model", model, "--device", "cuda", "--out", out_s];
    fails_with(&demand, "execution provider `cuda` is unavailable: ");
    fails_with(&demand, cuda_missing());

    let cfg = dir.path().join("c.json");
    std::fs::write(&cfg, r#"{"gpu_enabled": true, "checkpoint_enabled": false}"#).unwrap();
    let o = footml()
        .args(["analyze", video, "--model", model, "--config", cfg.to_str().unwrap(), "--out", out_s])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    let warnings: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["type"] == "warning" && e["stage"] == "player_detection")
        .collect();
    assert_eq!(warnings.len(), 1, "{events}");
    let message = warnings[0]["message"].as_str().unwrap();
    assert!(message.contains("running on the CPU") && message.contains(cuda_missing()), "{message}");
    // It still detected and tracked the person on the CPU.
    assert_one_track(&out);
}

#[test]
fn detection_stride_tracks_every_frame_from_every_third() {
    let dir = tempfile::tempdir().unwrap();
    let video = person_video(dir.path(), 7);
    let out = dir.path().join("out");
    let cfg = dir.path().join("c.json");
    std::fs::write(
        &cfg,
        r#"{"checkpoint_enabled": false, "stage_configs": {"player_detection": {"detection_stride": 3}}}"#,
    )
    .unwrap();
    let o = analyze_with_model(&video, &cfg, &out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Detected on frames 0, 3, 6 (3 inference runs); tracked on all 7, one id, at the photo.
    let tracks = std::fs::read_to_string(out.join("tracks.txt")).unwrap();
    let rows: Vec<Vec<f32>> =
        tracks.lines().map(|l| l.split(',').map(|v| v.trim().parse().unwrap()).collect()).collect();
    assert_eq!(rows.iter().map(|r| r[0] as u32).collect::<Vec<_>>(), (1..=7).collect::<Vec<_>>(), "{tracks}");
    assert!(rows.iter().all(|r| r[1] == 1.0), "{tracks}");
    let photo = footml::BBox::new(256.0, 105.0, 128.0, 150.0);
    for r in &rows {
        let iou = footml::BBox::new(r[2], r[3], r[4], r[5]).iou(&photo);
        assert!(iou >= 0.6, "frame {}: IoU {iou} ({tracks})", r[0]);
    }
}

/// The detection model comes from `--model`, else the config's `model_path`, else
/// `YOLO_MODEL_PATH`: each failing case names the file that was chosen.
#[test]
fn model_flag_beats_config_beats_environment() {
    let dir = tempfile::tempdir().unwrap();
    let video = person_video(dir.path(), 2);
    let out = dir.path().join("out");
    let not_onnx = dir.path().join("text.onnx");
    std::fs::write(&not_onnx, "not a model\n").unwrap();
    let cfg = dir.path().join("c.json");
    std::fs::write(
        &cfg,
        r#"{"checkpoint_enabled": false, "stage_configs": {"player_detection": {"model_path": "/nonexistent/config.onnx"}}}"#,
    )
    .unwrap();
    let run = |model: Option<&Path>, config: bool, env: Option<&str>| {
        let mut cmd = footml();
        cmd.arg("analyze").arg(&video).arg("--out").arg(&out).env_remove("YOLO_MODEL_PATH");
        if let Some(m) = model {
            cmd.arg("--model").arg(m);
        }
        if config {
            cmd.arg("--config").arg(&cfg);
        }
        if let Some(e) = env {
            cmd.env("YOLO_MODEL_PATH", e);
        }
        cmd.output().unwrap()
    };
    let e = error_line(&run(None, false, Some("/nonexistent/env.onnx")));
    assert!(e.contains("detection model /nonexistent/env.onnx not found"), "{e}");
    let e = error_line(&run(None, true, Some("/nonexistent/env.onnx")));
    assert!(e.contains("detection model /nonexistent/config.onnx not found"), "{e}");
    let e = error_line(&run(Some(&not_onnx), true, Some("/nonexistent/env.onnx")));
    assert!(e.contains(&format!("{} is not an ONNX model", not_onnx.display())), "{e}");
    // The flag's real model runs although the config and the environment name missing files.
    let o = run(Some(&default_model()), true, Some("/nonexistent/env.onnx"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_one_track(&out);
}

/// The ONNX Runtime library: a missing one is a one-line error that says how to install it;
/// the config's `onnxruntime_path` wins over `ORT_DYLIB_PATH`. Each case is a fresh process
/// (a process loads ONNX Runtime once).
#[test]
fn onnxruntime_library_missing_or_chosen_by_config_or_environment() {
    let dir = tempfile::tempdir().unwrap();
    let video = person_video(dir.path(), 2);
    let out = dir.path().join("out");
    let real = footml::stages::player_detection::find_onnxruntime().unwrap();
    let text = dir.path().join("libonnxruntime.so.0");
    std::fs::write(&text, "not a library\n").unwrap();
    let run = |config_lib: Option<&Path>, env_lib: &Path| {
        let cfg = dir.path().join("c.json");
        let mut doc = serde_json::json!({"checkpoint_enabled": false});
        if let Some(lib) = config_lib {
            doc["onnxruntime_path"] = serde_json::json!(lib);
        }
        std::fs::write(&cfg, doc.to_string()).unwrap();
        analyze_with_model(&video, &cfg, &out).env("ORT_DYLIB_PATH", env_lib).output().unwrap()
    };
    let one_error = |o: &std::process::Output, want: &[&str]| {
        let last = error_line(o);
        assert!(want.iter().all(|w| last.contains(w)), "{want:?} in {last}");
    };
    // Missing: where it looked and how to install it.
    one_error(
        &run(None, Path::new("/nonexistent/libonnxruntime.so")),
        &[
            "ONNX Runtime library (libonnxruntime.so) was not found",
            "ORT_DYLIB_PATH=/nonexistent/libonnxruntime.so (no such file)",
            "bash scripts/setup.sh",
            "pip install onnxruntime",
        ],
    );
    // The config's library wins over the environment's: a file that is no library fails
    // although ORT_DYLIB_PATH names the real one...
    one_error(&run(Some(&text), &real), &["cannot load ONNX Runtime from", text.to_str().unwrap()]);
    one_error(&run(Some(Path::new("/nonexistent/ort.so")), &real), &["onnxruntime_path=/nonexistent/ort.so"]);
    // ...and the real one runs although ORT_DYLIB_PATH names a missing file.
    let o = run(Some(&real), Path::new("/nonexistent/libonnxruntime.so"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// "Model caching": two pipelines built in one process from configs naming the same model run
/// on one ONNX Runtime session. The model is a private copy, so that no other test holds it:
/// the cache, the two pipelines' detectors and this test's handle are then its only owners.
#[test]
fn two_pipelines_in_one_process_share_one_session() {
    use footml::stages::player_detection::YoloModel;

    let dir = tempfile::tempdir().unwrap();
    let video = person_video(dir.path(), 2);
    let model = dir.path().join("shared.onnx");
    std::fs::copy(default_model(), &model).unwrap();
    let config = |out: &str| {
        let mut c = footml::PipelineConfig {
            video_path: Some(video.clone()),
            output_dir: Some(dir.path().join(out)),
            checkpoint_enabled: false,
            ..Default::default()
        };
        c.stage_configs.player_detection.model_path = Some(model.clone());
        c
    };
    let first = footml::Pipeline::from_config(&config("a")).unwrap();
    let second = footml::Pipeline::from_config(&config("b")).unwrap();
    let threads = footml::config::PlayerDetectionConfig::default().intra_threads;
    let session = YoloModel::load(&model, threads).unwrap();
    // The cache, the two detectors and `session`: one model, four handles.
    assert_eq!(std::sync::Arc::strong_count(&session), 4);
    drop((first, second));
    assert_eq!(std::sync::Arc::strong_count(&session), 2, "the cache and `session` remain");
    // Other options are another session.
    let other = YoloModel::load(&model, threads + 1).unwrap();
    assert!(!std::sync::Arc::ptr_eq(&session, &other));
}
