//! Video through the whole engine: the CLI on real files (good, damaged, wrong), and a
//! resumed video run that must equal an uninterrupted one, audio included.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use footml::config::VideoDecodingConfig;
use footml::pipeline::stage::Stage;
use footml::stages::video_decoding::VideoSource;
use footml::{Artifact, FrameBatch, MemoryCheckpointStore, Pipeline, Result, RetryPolicy, StageContext, StreamStage};

/// Makes a 320x240, 25 fps clip of `secs` seconds with a 440 Hz tone.
fn clip(dir: &Path, name: &str, secs: u32) -> PathBuf {
    let path = dir.join(name);
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i"])
        .arg("sine=frequency=440:sample_rate=48000")
        .args(["-t", &secs.to_string(), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "25", "-c:a", "aac"])
        .arg(&path)
        .status()
        .expect("ffmpeg CLI (installed by scripts/setup.sh)");
    assert!(st.success());
    path
}

fn footml(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_footml")).args(args).output().unwrap()
}

#[test]
fn cli_decodes_resamples_and_extracts_audio() {
    let dir = tempfile::tempdir().unwrap();
    let video = clip(dir.path(), "clip.mp4", 4);
    let cfg = dir.path().join("cfg.json");
    std::fs::write(
        &cfg,
        r#"{"stage_configs": {"video_decoding": {"target_fps": 10, "target_resolution": [160, 160], "extract_audio": true}}}"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = footml(&[
        "analyze",
        video.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    // 4 s at 10 fps; 320x240 fitted into 160x160 keeps 4:3.
    assert_eq!(r["video"]["frame_count"], 40);
    assert_eq!((r["video"]["width"].as_u64(), r["video"]["height"].as_u64()), (Some(160), Some(120)));
    assert_eq!(r["video"]["codec"], "h264");
    assert_eq!(r["stages"][0]["name"], "video_decoding");
    assert_eq!(r["stages"][0]["frames"], 40);
    assert_eq!(r["frames_lost"], 0);
    let wav = PathBuf::from(r["outputs"]["audio"].as_str().unwrap());
    let bytes = std::fs::read(&wav).unwrap();
    assert_eq!(&bytes[..4], b"RIFF");
    // 4 s of 48 kHz mono 16-bit, give or take an AAC frame.
    let samples = (bytes.len() - 44) / 2;
    assert!((samples as i64 - 4 * 48_000).abs() < 2048, "{samples} samples");
}

#[test]
fn cli_reports_bad_videos_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let text = dir.path().join("notes.mp4");
    std::fs::write(&text, "this is not a video\n").unwrap();
    let audio = dir.path().join("tone.m4a");
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "1"])
        .arg(&audio)
        .status()
        .unwrap();
    assert!(st.success());
    for (path, want) in [
        (dir.path().join("missing.mp4"), "not found"),
        (text, "expected a video file ffmpeg can read"),
        (audio, "no video stream"),
    ] {
        let o = footml(&["analyze", path.to_str().unwrap(), "--out", out]);
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8_lossy(&o.stderr);
        let last = err.trim_end().lines().last().unwrap_or_default().to_lowercase();
        assert!(last.starts_with("footml: error:") && last.contains(want), "{want}: {err}");
    }
}

#[test]
fn damaged_video_is_decoded_as_far_as_possible_and_losses_reported() {
    let dir = tempfile::tempdir().unwrap();
    let ts = dir.path().join("clip.ts");
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "4"])
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "25"])
        .arg(&ts)
        .status()
        .unwrap();
    assert!(st.success());
    let mut bytes = std::fs::read(&ts).unwrap();
    let (a, b) = (bytes.len() * 2 / 5, bytes.len() * 3 / 5);
    for (i, v) in bytes[a..b].iter_mut().enumerate() {
        *v = (i * 7919 % 251) as u8;
    }
    std::fs::write(&ts, bytes).unwrap();
    let out = dir.path().join("out");
    let o = footml(&["analyze", ts.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("frames lost to corrupt data"));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let (decoded, lost) = (r["stages"][0]["frames"].as_u64().unwrap(), r["frames_lost"].as_u64().unwrap());
    assert!(lost > 0 && decoded > 0, "decoded {decoded}, lost {lost}");
    assert_eq!(decoded + lost, 100, "every frame of the 4 s clip is either decoded or counted as lost");
}

/// Reads pixels (so decoding must produce them), records a checksum per frame, and fails
/// once at frame `fail_at` when told to.
struct PixelSum {
    fail_at: Option<u64>,
    failures: Arc<AtomicU32>,
}

impl Stage for PixelSum {
    fn name(&self) -> &str {
        "pixel_sum"
    }
    fn requires(&self) -> Vec<Artifact> {
        vec![Artifact::FRAMES]
    }
    fn provides(&self) -> Vec<Artifact> {
        vec![Artifact::custom("pixel_sum")]
    }
}

impl StreamStage for PixelSum {
    fn process(&mut self, batch: &mut FrameBatch, _: &StageContext) -> Result<()> {
        for item in &mut batch.items {
            if Some(item.record.index) == self.fail_at
                && self.failures.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0
            {
                return Err(footml::Error::permanent("simulated crash"));
            }
            let img = item.image.as_ref().expect("pixels");
            let sum: u64 = (0..img.height as usize)
                .flat_map(|y| img.data[y * img.stride..y * img.stride + img.width as usize * 3].iter())
                .map(|&v| v as u64)
                .sum();
            item.record.extra.insert("pixel_sum".into(), serde_json::json!(sum));
        }
        Ok(())
    }
    fn save_state(&self) -> Result<Vec<u8>> {
        Ok(vec![])
    }
    fn load_state(&mut self, _: &[u8]) -> Result<()> {
        Ok(())
    }
}

/// Gathers the per-frame checksums into the report.
struct CollectSums;

impl Stage for CollectSums {
    fn name(&self) -> &str {
        "collect_sums"
    }
    fn requires(&self) -> Vec<Artifact> {
        vec![Artifact::custom("pixel_sum")]
    }
    fn provides(&self) -> Vec<Artifact> {
        vec![Artifact::custom("pixel_sums")]
    }
}

impl footml::MatchStage for CollectSums {
    fn run(&mut self, data: &mut footml::MatchData, _: &StageContext) -> Result<()> {
        let sums: Vec<_> =
            data.frames.iter().map(|f| serde_json::json!([f.index, f.time_s, f.extra["pixel_sum"]])).collect();
        data.extra.insert("pixel_sums".into(), serde_json::Value::Array(sums));
        Ok(())
    }
}

#[test]
fn resumed_video_run_equals_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let video = clip(dir.path(), "clip.mp4", 6);
    let cfg = VideoDecodingConfig { target_fps: Some(10.0), extract_audio: true, ..Default::default() };
    let failures = Arc::new(AtomicU32::new(0));
    let run = |out: &Path, store: Arc<dyn footml::CheckpointStore>, fail_at: Option<u64>| {
        Pipeline::builder()
            .pipeline_id("video-resume")
            .source(VideoSource::open(&video, &cfg, Some(out)).unwrap())
            .stream_stage(PixelSum { fail_at, failures: failures.clone() })
            .match_stage(CollectSums)
            .stage_retry_policy("pixel_sum", RetryPolicy::none())
            .shared_checkpoint_store(store)
            .checkpoint_interval(16)
            .batch_size(3)
            .build()
            .unwrap()
            .run()
    };
    let clean_dir = dir.path().join("clean");
    let clean = run(&clean_dir, Arc::new(MemoryCheckpointStore::new()), None).unwrap();
    let resumed_dir = dir.path().join("resumed");
    let store: Arc<dyn footml::CheckpointStore> = Arc::new(MemoryCheckpointStore::new());
    assert!(run(&resumed_dir, store.clone(), Some(45)).is_err());
    let resumed = run(&resumed_dir, store, None).unwrap();
    assert_eq!(clean.video.frame_count, Some(60));
    // Every frame's pixel checksum and time, in order: resumed decoding saw exactly the
    // frames an uninterrupted run saw.
    assert_eq!(clean.extra["pixel_sums"].as_array().unwrap().len(), 60);
    assert_eq!(resumed.extra["pixel_sums"], clean.extra["pixel_sums"]);
    assert_eq!(resumed.stages.iter().map(|s| s.frames).collect::<Vec<_>>(), vec![60, 60, 60]);
    let (a, b) =
        (std::fs::read(clean_dir.join("audio.wav")).unwrap(), std::fs::read(resumed_dir.join("audio.wav")).unwrap());
    assert_eq!(a.len(), b.len(), "the WAV of a resumed run is complete");
    let first_diff = a.iter().zip(&b).position(|(x, y)| x != y);
    assert_eq!(first_diff, None, "the WAV of a resumed run is identical (sizes {} and {})", a.len(), b.len());
}
