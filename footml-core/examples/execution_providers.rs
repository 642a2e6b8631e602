//! Verifies the execution providers on a machine with a GPU, and measures them (issue 3
//! item 2; numbers in benches/README.md, "GPU").
//!
//! On the frames of a clip (raw RGB24, as `ffmpeg -f rawvideo -pix_fmt rgb24` writes them,
//! so that no FFmpeg is needed on the GPU machine), it
//!
//! 1. builds the detector under each provider setting a user can give — CPU, `device: cuda`
//!    and `device: tensorrt` (demanded), `gpu_enabled` (preferred, with fallback),
//!    `gpu_memory_fraction`, `cuda_visible_devices` (a present and an absent device) — and
//!    prints which provider each one got, or its typed error;
//! 2. detects on every frame with each provider that loaded, under the rendered-clip settings
//!    (2×2 tiles + full frame, confidence 0.25, class 0), and compares the boxes with the
//!    CPU's (greedy IoU matching) and, with `--gt`, with the ground truth (IoU ≥ 0.5);
//! 3. times, per provider, (a) the bare ONNX Runtime loop on one pre-made input and (b) footml's
//!    detector on whole frames (letterbox + inference + decoding + NMS), full frame and with
//!    tiles, and (c) a live session end to end (detection, tracking, ball; pushes of RGB
//!    frames), so that (b)/(a) and (c)/(a) hold as ratios within one run;
//! 4. with `--batch-model` (a dynamic-batch export, `scripts/onnx_dynamic_batch.py`), the
//!    detector's frames/s at `batch_size` 1, 4 and 8 on each GPU provider.
//!
//! Run (release): `cargo run --release -p footml-core --no-default-features --features
//! onnx,cuda,tensorrt --example execution_providers -- --model M --frames F.rgb --size WxH
//! [--gt gt.txt] [--batch-model DYN.onnx] [--threads N] [--json OUT.json]`.
//! ONNX Runtime comes from `ORT_DYLIB_PATH` (the `onnxruntime-gpu` wheel's library).

use std::path::{Path, PathBuf};
use std::time::Instant;

use footml::config::{InferenceDevice, PlayerDetectionConfig};
use footml::live::{LiveFrame, LiveSession, PackedFormat};
use footml::stages::player_detection::{ExecutionOptions, PlayerDetector, Preprocessor, find_onnxruntime, onnxruntime};
use footml::{BBox, Detection, PipelineConfig, RgbFrame};
use serde_json::json;

struct Args {
    model: PathBuf,
    frames: PathBuf,
    size: (u32, u32),
    gt: Option<PathBuf>,
    batch_model: Option<PathBuf>,
    threads: usize,
    json: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut model, mut frames, mut size, mut gt, mut batch_model, mut json) = (None, None, None, None, None, None);
    let mut threads = 2;
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--model" => model = Some(PathBuf::from(value()?)),
            "--frames" => frames = Some(PathBuf::from(value()?)),
            "--gt" => gt = Some(PathBuf::from(value()?)),
            "--batch-model" => batch_model = Some(PathBuf::from(value()?)),
            "--json" => json = Some(PathBuf::from(value()?)),
            "--threads" => threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--size" => {
                let v = value()?;
                let (w, h) = v.split_once('x').ok_or("--size: expected WxH")?;
                size = Some((w.parse().map_err(|_| "--size width")?, h.parse().map_err(|_| "--size height")?));
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        model: model.ok_or("--model is required")?,
        frames: frames.ok_or("--frames is required")?,
        size: size.ok_or("--size is required")?,
        gt,
        batch_model,
        threads,
        json,
    })
}

/// Ground-truth boxes per 0-based frame from a MOTChallenge file (frame numbers from 1).
fn read_gt(path: &Path, frames: usize) -> Vec<Vec<BBox>> {
    let text = std::fs::read_to_string(path).expect("read gt");
    let mut out = vec![Vec::new(); frames];
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Vec<f32> = line.split(',').map(|s| s.trim().parse().unwrap_or(f32::NAN)).collect();
        let f = v[0] as usize;
        if (1..=frames).contains(&f) {
            out[f - 1].push(BBox { x: v[2], y: v[3], w: v[4], h: v[5] });
        }
    }
    out
}

/// Greedy one-to-one matching, best IoU first: the matched pairs' IoUs.
fn match_boxes(a: &[BBox], b: &[BBox], min_iou: f32) -> Vec<(usize, usize, f32)> {
    let mut pairs: Vec<(usize, usize, f32)> = (0..a.len())
        .flat_map(|i| (0..b.len()).map(move |j| (i, j)))
        .map(|(i, j)| (i, j, a[i].iou(&b[j])))
        .filter(|p| p.2 >= min_iou)
        .collect();
    pairs.sort_by(|x, y| y.2.total_cmp(&x.2));
    let (mut used_a, mut used_b) = (vec![false; a.len()], vec![false; b.len()]);
    pairs.retain(|&(i, j, _)| {
        let keep = !used_a[i] && !used_b[j];
        used_a[i] |= keep;
        used_b[j] |= keep;
        keep
    });
    pairs
}

fn boxes(d: &[Detection]) -> Vec<BBox> {
    d.iter().map(|d| d.bbox).collect()
}

/// Milliseconds per call of `f` over `n` calls, after two warm-up calls (the first GPU
/// calls allocate and tune).
fn time_ms(n: usize, mut f: impl FnMut()) -> f64 {
    f();
    f();
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_secs_f64() * 1000.0 / n as f64
}

fn detection_config(model: &Path, threads: usize, tiles: [u32; 2]) -> PlayerDetectionConfig {
    PlayerDetectionConfig {
        model_path: Some(model.to_path_buf()),
        confidence_threshold: 0.25,
        player_class_ids: Some(vec![0]),
        tiles,
        intra_threads: threads,
        ..Default::default()
    }
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("execution_providers: {e}");
        std::process::exit(2);
    });
    let (w, h) = args.size;
    let raw = std::fs::read(&args.frames).expect("read frames");
    let frame_bytes = (w * h * 3) as usize;
    assert!(
        raw.len() >= frame_bytes && raw.len().is_multiple_of(frame_bytes),
        "frames file is not whole {w}x{h} RGB24 frames"
    );
    let frames: Vec<RgbFrame> = raw
        .chunks_exact(frame_bytes)
        .map(|c| RgbFrame { width: w, height: h, stride: 3 * w as usize, data: c.to_vec() })
        .collect();
    let n = frames.len();
    let mut results = serde_json::Map::new();
    let say = |line: String| println!("{line}");

    match find_onnxruntime() {
        Ok(p) => say(format!("ONNX Runtime: {}", p.display())),
        Err(e) => panic!("{e}"),
    }
    onnxruntime().expect("ONNX Runtime loads");
    say(format!("{n} frames of {w}x{h}, model {}, {} CPU threads", args.model.display(), args.threads));

    // 1. Provider settings.
    let settings: Vec<(&str, ExecutionOptions)> = vec![
        ("cpu", ExecutionOptions { device: Some(InferenceDevice::Cpu), ..Default::default() }),
        ("device cuda", ExecutionOptions { device: Some(InferenceDevice::Cuda), ..Default::default() }),
        ("device tensorrt", ExecutionOptions { device: Some(InferenceDevice::Tensorrt), ..Default::default() }),
        ("gpu_enabled", ExecutionOptions { gpu_enabled: true, ..Default::default() }),
        (
            "device cuda, gpu_memory_fraction 0.25",
            ExecutionOptions {
                device: Some(InferenceDevice::Cuda),
                gpu_memory_fraction: Some(0.25),
                ..Default::default()
            },
        ),
        (
            "device cuda, cuda_visible_devices \"0\"",
            ExecutionOptions {
                device: Some(InferenceDevice::Cuda),
                cuda_visible_devices: Some("0".into()),
                ..Default::default()
            },
        ),
        (
            "device cuda, cuda_visible_devices \"7\" (absent)",
            ExecutionOptions {
                device: Some(InferenceDevice::Cuda),
                cuda_visible_devices: Some("7".into()),
                ..Default::default()
            },
        ),
    ];
    let cfg = detection_config(&args.model, args.threads, [2, 2]);
    let mut loaded: Vec<(InferenceDevice, PlayerDetector)> = Vec::new();
    let mut provider_rows = Vec::new();
    for (label, exec) in &settings {
        let t = Instant::now();
        let got = PlayerDetector::with_execution(&cfg, exec);
        let secs = t.elapsed().as_secs_f64();
        match got {
            Ok(det) => {
                let provider = det.model().provider().clone();
                say(format!(
                    "[{label}] -> {provider} (memory limit {:?}, loaded in {secs:.1} s){}",
                    provider.memory_limit,
                    det.fallback_warning().map(|w| format!("; warning: {w}")).unwrap_or_default()
                ));
                provider_rows.push(json!({"setting": label, "provider": provider.to_string(),
                    "memory_limit": provider.memory_limit, "warning": det.fallback_warning(), "load_s": secs}));
                if exec.gpu_memory_fraction.is_none()
                    && exec.cuda_visible_devices.is_none()
                    && !loaded.iter().any(|(d, _)| *d == provider.device)
                {
                    loaded.push((provider.device, det));
                }
            }
            Err(e) => {
                say(format!("[{label}] -> error: {e}"));
                provider_rows.push(json!({"setting": label, "error": e.to_string()}));
            }
        }
    }
    results.insert("providers".into(), provider_rows.into());

    // 2. Detections per provider, against the CPU's and the ground truth.
    let gt = args.gt.as_ref().map(|p| read_gt(p, n));
    let mut per_device: Vec<(InferenceDevice, Vec<Vec<Detection>>)> = Vec::new();
    for (device, det) in &mut loaded {
        let out: Vec<Vec<Detection>> = frames.iter().map(|f| det.detect(&[f]).expect("detect").remove(0)).collect();
        per_device.push((*device, out));
    }
    let mut accuracy = Vec::new();
    let cpu = per_device.iter().find(|(d, _)| *d == InferenceDevice::Cpu).map(|(_, o)| o.clone());
    for (device, out) in &per_device {
        let total: usize = out.iter().map(Vec::len).sum();
        let mut row = json!({"device": device.to_string(), "detections": total});
        if let Some(cpu) = &cpu {
            let (mut matched, mut cpu_total, mut min_iou, mut max_dscore) = (0usize, 0usize, 1.0f32, 0.0f32);
            for (a, b) in cpu.iter().zip(out) {
                cpu_total += a.len();
                for (i, j, iou) in match_boxes(&boxes(a), &boxes(b), 0.5) {
                    matched += 1;
                    min_iou = min_iou.min(iou);
                    max_dscore = max_dscore.max((a[i].score - b[j].score).abs());
                }
            }
            row["vs_cpu"] = json!({"cpu_detections": cpu_total, "matched": matched, "min_iou": min_iou,
                "max_score_diff": max_dscore});
            say(format!(
                "{device}: {total} boxes; vs CPU ({cpu_total}): {matched} matched at IoU >= 0.5, lowest IoU {min_iou:.4}, \
                 largest score difference {max_dscore:.4}"
            ));
        }
        if let Some(gt) = &gt {
            let gt_total: usize = gt.iter().map(Vec::len).sum();
            let tp: usize = gt.iter().zip(out).map(|(g, d)| match_boxes(g, &boxes(d), 0.5).len()).sum();
            let (recall, precision) = (tp as f64 / gt_total as f64, tp as f64 / total.max(1) as f64);
            row["vs_gt"] = json!({"gt": gt_total, "recall": recall, "precision": precision});
            say(format!(
                "{device}: recall {recall:.3}, precision {precision:.3} against {gt_total} ground-truth boxes"
            ));
        }
        accuracy.push(row);
    }
    results.insert("accuracy".into(), accuracy.into());

    // 3. Speed per provider.
    let reps = (3 * n).max(30);
    let mut speed = Vec::new();
    for (device, _) in &loaded {
        let device = *device;
        let exec = ExecutionOptions { device: Some(device), ..Default::default() };
        // (a) The bare loop: an ONNX Runtime session of its own on the same provider, one
        // pre-made letterboxed input.
        let whole = detection_config(&args.model, args.threads, [1, 1]);
        let mut det = PlayerDetector::with_execution(&whole, &exec).expect("detector");
        let (in_w, in_h) = det.model().input_size();
        let mut input = vec![0.0f32; 3 * in_w * in_h];
        Preprocessor::new().letterbox(&frames[0], [0, 0, w, h], in_w, in_h, &mut input);
        let bare_ms = {
            let mut builder = ort::session::Session::builder(onnxruntime().expect("onnxruntime"))
                .and_then(|b| b.with_intra_threads(args.threads).map_err(Into::into))
                .expect("session builder");
            builder = match device {
                InferenceDevice::Cpu => builder,
                #[cfg(feature = "cuda")]
                InferenceDevice::Cuda => builder
                    .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
                    .expect("cuda"),
                #[cfg(feature = "tensorrt")]
                InferenceDevice::Tensorrt => builder
                    .with_execution_providers([
                        ort::ep::TensorRT::default().build().error_on_failure(),
                        ort::ep::CUDA::default().build(),
                    ])
                    .expect("tensorrt"),
                // Only providers that loaded get here, and those need their feature.
                #[allow(unreachable_patterns)]
                other => unreachable!("{other} loaded without its cargo feature"),
            };
            let mut session = builder.commit_from_file(&args.model).expect("session");
            let name = session.inputs()[0].name().to_string();
            let view = ndarray::ArrayView4::from_shape((1, 3, in_h, in_w), &input[..]).expect("shape");
            time_ms(reps, || {
                let tensor = ort::value::TensorRef::from_array_view(view).expect("tensor");
                let out = session.run(ort::inputs![name.as_str() => tensor]).expect("run");
                let (_, data) = out[0].try_extract_tensor::<f32>().expect("output");
                std::hint::black_box(data);
            })
        };
        // (b) The detector on whole frames, then with 2×2 tiles + the full frame.
        let mut i = 0;
        let whole_ms = time_ms(reps, || {
            std::hint::black_box(det.detect(&[&frames[i % n]]).expect("detect"));
            i += 1;
        });
        let mut tiled = PlayerDetector::with_execution(&cfg, &exec).expect("detector");
        let tiled_ms = time_ms(reps, || {
            std::hint::black_box(tiled.detect(&[&frames[i % n]]).expect("detect"));
            i += 1;
        });
        // (c) A live session end to end: detection, tracking, classical ball detection.
        let mut config = PipelineConfig {
            fps: Some(25.0),
            frame_size: Some([w, h]),
            checkpoint_enabled: false,
            ..Default::default()
        };
        config.stage_configs.player_detection = whole.clone();
        config.stage_configs.player_detection.device = Some(device);
        let mut live = LiveSession::from_config(&config).expect("live session");
        let mut k = 0u64;
        let live_ms = time_ms(reps, || {
            let f = &frames[k as usize % n];
            let frame = LiveFrame::Packed {
                format: PackedFormat::Rgb24,
                width: w,
                height: h,
                stride: f.stride,
                data: &f.data,
                timestamp_s: k as f64 / 25.0,
            };
            std::hint::black_box(live.push(frame).expect("push"));
            k += 1;
        });
        live.finish().expect("finish");
        say(format!(
            "{device}: (a) bare ONNX Runtime {:.1} frames/s ({bare_ms:.2} ms); (b) footml detector, whole frame {:.1} \
             frames/s = {:.1}% of (a); 2x2 tiles + full frame {:.1} frames/s; (c) live session end to end {:.1} \
             frames/s = {:.1}% of (a)",
            1000.0 / bare_ms,
            1000.0 / whole_ms,
            100.0 * bare_ms / whole_ms,
            1000.0 / tiled_ms,
            1000.0 / live_ms,
            100.0 * bare_ms / live_ms
        ));
        speed.push(json!({"device": device.to_string(), "bare_ms": bare_ms, "detector_whole_ms": whole_ms,
            "detector_tiled_ms": tiled_ms, "live_ms": live_ms}));
    }
    results.insert("speed".into(), speed.into());

    // 4. Batches of frames on a dynamic-batch model.
    if let Some(batch_model) = &args.batch_model {
        let mut rows = Vec::new();
        for (device, _) in loaded.iter().filter(|(d, _)| *d != InferenceDevice::Cpu) {
            for batch in [1usize, 4, 8] {
                let mut c = detection_config(batch_model, args.threads, [1, 1]);
                c.batch_size = Some(batch);
                let exec = ExecutionOptions { device: Some(*device), ..Default::default() };
                let mut det = PlayerDetector::with_execution(&c, &exec).expect("detector");
                let chunk: Vec<&RgbFrame> = (0..batch).map(|j| &frames[j % n]).collect();
                let ms = time_ms(reps.div_ceil(batch), || {
                    std::hint::black_box(det.detect(&chunk).expect("detect"));
                });
                let fps = 1000.0 * batch as f64 / ms;
                say(format!("{device}, dynamic-batch model, batch_size {batch}: {fps:.1} frames/s"));
                rows.push(json!({"device": device.to_string(), "batch": batch, "fps": fps}));
            }
        }
        results.insert("batches".into(), rows.into());
    }

    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&results).expect("json")).expect("write json");
    }
}
