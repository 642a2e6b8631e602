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
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["tracks"].as_array().map(Vec::len), Some(1), "{}", report["tracks"]);
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
    let o = footml()
        .arg("analyze")
        .arg(&video)
        .arg("--model")
        .arg(default_model())
        .arg("--config")
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
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
