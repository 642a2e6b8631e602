//! Player detection speed (issue 3 item 8), every number from one process run on the same
//! clip, model and thread count, so that ratios hold on a loaded machine:
//!
//! 1. pre-processing of a 1280×720 frame: the portable Rust letterbox against swscale
//!    (whole frame, and the 5 regions of 2×2 tiles + full frame);
//! 2. (a) the bare ONNX Runtime loop (one pre-made input tensor, `run` + output extraction)
//!    against (b) footml end to end (`Pipeline::from_config`: decode, detect, classical ball
//!    detection, tracking, report) on the first `FOOTML_BENCH_FRAMES` frames of
//!    `data/sample.mp4`; (c) what a stage batch (`process()` call, `batch_size` 8, one image
//!    per model call) does outside the overlap: the letterbox of its first call and the
//!    decode of its last one, as a share of the batch's 8 inferences;
//! 3. end-to-end speed for `detection_stride` k = 1, 2, 3, 5;
//! 4. with `FOOTML_BENCH_RENDERED=DIR` (a clip made by `footml render`: `DIR/video.mp4` and
//!    `DIR/gt.txt`), tracking accuracy for each k, scored by py-motmetrics through
//!    `scripts/score_mot.py` (2×1 tiles + full frame, confidence 0.25, class 0: the settings
//!    under which this model finds the rendered players).
//!
//! Run: `cargo bench -p footml-core --bench detection` (release). `FOOTML_BENCH_THREADS`
//! sets ONNX Runtime's intra-op threads (default 2). Results go to stdout and
//! `target/tmp/detection-bench.txt`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use footml::stages::player_detection::{DecodeParams, Preprocessor, YoloModel, decode, frame_regions, onnxruntime};
use footml::{PipelineConfig, RgbFrame};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn default_model() -> PathBuf {
    let p = root().join(".venv/lib/python3.11/site-packages/fall_detection/models/best_fp16.onnx");
    assert!(p.exists(), "{} is missing: run scripts/setup.sh", p.display());
    p
}

fn ffmpeg(args: &[&str]) -> Vec<u8> {
    let out = Command::new("ffmpeg").args(["-v", "error"]).args(args).output().expect("run ffmpeg");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Mean milliseconds of `f` over `n` runs, after one warm-up run.
fn time_ms(n: usize, mut f: impl FnMut()) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_secs_f64() * 1000.0 / n as f64
}

/// Detector settings for the rendered broadcast clip (benches/README.md, "Detection on the
/// rendered match"): the model finds the small rendered players with tiles at confidence
/// 0.25, class 0 only.
#[derive(Clone, Copy)]
struct Settings {
    stride: u32,
    rendered: bool,
}

/// Runs the standard pipeline on `video` and returns (frames/s, frames).
fn end_to_end(video: &Path, threads: usize, set: Settings, out: &Path) -> (f64, u64) {
    let mut config = PipelineConfig {
        video_path: Some(video.to_path_buf()),
        output_dir: Some(out.to_path_buf()),
        checkpoint_enabled: false,
        ..Default::default()
    };
    let pd = &mut config.stage_configs.player_detection;
    pd.model_path = Some(default_model());
    pd.intra_threads = threads;
    pd.detection_stride = set.stride;
    if set.rendered {
        pd.tiles = [2, 1];
        pd.confidence_threshold = 0.25;
        pd.player_class_ids = Some(vec![0]);
        // Tracks start from and follow the detections the detector reports at 0.25.
        let pt = &mut config.stage_configs.player_tracking;
        pt.high_threshold = 0.3;
        pt.new_track_threshold = 0.35;
    }
    let t = Instant::now();
    let report = footml::Pipeline::from_config(&config).expect("pipeline").run().expect("run");
    let frames = report.video.frame_count.unwrap_or_default();
    (frames as f64 / t.elapsed().as_secs_f64(), frames)
}

fn main() {
    let frames = env_usize("FOOTML_BENCH_FRAMES", 20);
    let threads = env_usize("FOOTML_BENCH_THREADS", 2);
    let tmp = root().join("target/tmp/detection-bench");
    std::fs::create_dir_all(&tmp).expect("target/tmp");
    let mut report = Vec::new();
    let mut say = |line: String| {
        println!("{line}");
        report.push(line);
    };
    say(format!("detection bench: {frames} frames of data/sample.mp4, {threads} ONNX Runtime threads"));

    // The clip: the first frames of the sample, re-encoded so that it ends there.
    let sample = root().join("data/sample.mp4");
    assert!(sample.exists(), "{} is missing: run scripts/setup.sh", sample.display());
    let clip = tmp.join(format!("sample-{frames}.mp4"));
    let n = frames.to_string();
    ffmpeg(
        &["-y", "-i", sample.to_str().unwrap(), "-frames:v", &n, "-an", "-c:v", "libx264", "-preset", "veryfast"]
            .into_iter()
            .chain([clip.to_str().unwrap()])
            .collect::<Vec<_>>(),
    );

    let speed = std::env::var_os("FOOTML_BENCH_ONLY_RENDERED").is_none();
    if speed {
        // 1. Pre-processing of one real frame.
        let raw = ffmpeg(&["-i", clip.to_str().unwrap(), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]);
        let (w, h) = (1280u32, 720u32);
        assert_eq!(raw.len(), (w * h * 3) as usize, "expected a 1280×720 sample");
        let frame = RgbFrame { width: w, height: h, stride: 3 * w as usize, data: raw };
        let mut input = vec![0.0f32; 3 * 640 * 640];
        let mut whole_frame_ms = 0.0;
        for (label, tiles) in [("whole frame", [1, 1]), ("2×2 tiles + full frame", [2, 2])] {
            let regions = frame_regions(w, h, tiles, 0.1, true);
            let mut run = |pre: &mut Preprocessor| {
                time_ms(30, || {
                    for &(r, _) in &regions {
                        pre.letterbox(&frame, r, 640, 640, &mut input);
                    }
                })
            };
            let portable = run(&mut Preprocessor::portable());
            let sws = run(&mut Preprocessor::new());
            if tiles == [1, 1] {
                // What the detector uses (`Preprocessor::new`), for 2c.
                whole_frame_ms = sws;
            }
            say(format!(
                "letterbox 1280x720 -> 640x640, {label}: portable {portable:.2} ms, swscale {sws:.2} ms ({:.1}x)",
                portable / sws
            ));
        }

        // 2a. The bare ONNX Runtime loop on one letterboxed frame.
        let lb = Preprocessor::new().letterbox(&frame, [0, 0, w, h], 640, 640, &mut input);
        let mut session = ort::session::Session::builder(onnxruntime().expect("onnxruntime"))
            .and_then(|b| b.with_intra_threads(threads).map_err(Into::into))
            .and_then(|mut b| b.commit_from_file(default_model()))
            .expect("session");
        let name = session.inputs()[0].name().to_string();
        let view = ndarray::ArrayView4::from_shape((1, 3, 640, 640), &input[..]).expect("shape");
        let bare_ms = time_ms(frames, || {
            let tensor = ort::value::TensorRef::from_array_view(view).expect("tensor");
            let out = session.run(ort::inputs![name.as_str() => tensor]).expect("run");
            let (_, data) = out[0].try_extract_tensor::<f32>().expect("output");
            std::hint::black_box(data);
        });
        let bare_fps = 1000.0 / bare_ms;
        let tensor = ort::value::TensorRef::from_array_view(view).expect("tensor");
        let out = session.run(ort::inputs![name.as_str() => tensor]).expect("run");
        let (shape, data) = out[0].try_extract_tensor::<f32>().expect("output");
        let (channels, anchors, output) = (shape[1] as usize, shape[2] as usize, data.to_vec());
        drop(out);
        drop(session);

        // 2c. The serial edges of one stage batch of 8 frames: nothing overlaps the first
        // call's letterbox (no inference is running yet) or the last call's decode (none is
        // left to run).
        const BATCH: usize = 8;
        let params = DecodeParams { confidence: 0.5, classes: None };
        let decode_ms = time_ms(30, || {
            std::hint::black_box(decode(&output, channels, anchors, &lb, w, h, &params));
        });
        let serial_ms = whole_frame_ms + decode_ms;
        say(format!(
            "serial edges of a batch of {BATCH}: first letterbox {whole_frame_ms:.2} ms + last decode {decode_ms:.2} ms = \
             {serial_ms:.2} ms, {:.2} ms/frame = {:.2}% of the batch's {BATCH} bare inferences",
            serial_ms / BATCH as f64,
            100.0 * serial_ms / (BATCH as f64 * bare_ms)
        ));

        // 2b. footml end to end, stride 1, with the session already cached (as in a service).
        YoloModel::load(&default_model(), threads).expect("model");
        let (e2e_fps, got) = end_to_end(&clip, threads, Settings { stride: 1, rendered: false }, &tmp.join("out-k1"));
        assert_eq!(got, frames as u64, "the pipeline saw every frame");
        say(format!(
            "(a) bare ONNX Runtime: {bare_fps:.2} frames/s ({bare_ms:.1} ms/frame); (b) footml end to end: {e2e_fps:.2} \
             frames/s; (b)/(a) = {:.1}%",
            100.0 * e2e_fps / bare_fps
        ));

        // 3. Detection stride.
        for k in [2u32, 3, 5] {
            let (fps, _) =
                end_to_end(&clip, threads, Settings { stride: k, rendered: false }, &tmp.join(format!("out-k{k}")));
            say(format!("detection_stride {k}: {fps:.2} frames/s end to end ({:.2}x stride 1)", fps / e2e_fps));
        }
    }

    // 4. Tracking accuracy per stride on a rendered clip with ground truth.
    if let Some(dir) = std::env::var_os("FOOTML_BENCH_RENDERED").map(PathBuf::from) {
        let video = dir.join("video.mp4");
        for k in [1u32, 2, 3, 5] {
            let out = tmp.join(format!("rendered-k{k}"));
            let (fps, n) = end_to_end(&video, threads, Settings { stride: k, rendered: true }, &out);
            let scored = Command::new(root().join(".venv/bin/python"))
                .arg(root().join("scripts/score_mot.py"))
                .arg(dir.join("gt.txt"))
                .arg(out.join("tracks.txt"))
                .output()
                .expect("run score_mot.py");
            let json = String::from_utf8_lossy(&scored.stdout);
            let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
            say(format!(
                "rendered clip ({n} frames), detection_stride {k}: {fps:.2} frames/s, IDF1 {:.3}, MOTA {:.3}, recall {:.3}, \
                 id switches {}",
                v["idf1"].as_f64().unwrap_or(f64::NAN),
                v["mota"].as_f64().unwrap_or(f64::NAN),
                v["recall"].as_f64().unwrap_or(f64::NAN),
                v["num_switches"]
            ));
        }
    }
    std::fs::write(root().join("target/tmp/detection-bench.txt"), report.join("\n") + "\n").expect("write results");
}
