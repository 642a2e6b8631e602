//! The model scripts (scripts/onnx_dynamic_batch.py) on the real default model, and the
//! converted model in footml's player detection with batches of several frames.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use footml::RgbFrame;
use footml::config::PlayerDetectionConfig;
use footml::stages::player_detection::{BatchDim, PlayerDetector};

use crate::common::{python, root};

fn default_model() -> PathBuf {
    let p = root().join(".venv/lib/python3.11/site-packages/fall_detection/models/best_fp16.onnx");
    assert!(p.exists(), "{} is missing: run scripts/setup.sh", p.display());
    p
}

fn dynamic_batch(args: &[&Path], extra: &[&str]) -> Output {
    Command::new(python())
        .arg(root().join("scripts/onnx_dynamic_batch.py"))
        .args(args)
        .args(extra)
        .output()
        .expect("run scripts/onnx_dynamic_batch.py")
}

/// The person photo (data/fixtures/grace_hopper.jpg) at `size` pixels high, at (x, y) on a
/// green 1280×720 frame, rendered by the ffmpeg CLI.
fn person_on_grass(x: u32, y: u32, size: u32) -> RgbFrame {
    let jpg = root().join("data/fixtures/grace_hopper.jpg");
    assert!(jpg.exists(), "{} is missing: run scripts/setup.sh", jpg.display());
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "color=c=0x3c783c:s=1280x720", "-i"])
        .arg(&jpg)
        .args(["-filter_complex", &format!("[1]scale=-2:{size}[p];[0][p]overlay={x}:{y}"), "-frames:v", "1"])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(out.status.success() && out.stdout.len() == 1280 * 720 * 3, "ffmpeg failed");
    RgbFrame { width: 1280, height: 720, stride: 1280 * 3, data: out.stdout }
}

#[test]
fn dynamic_batch_model_detects_as_the_fixed_one() {
    let dir = tempfile::tempdir().unwrap();
    let converted = dir.path().join("dynamic.onnx");
    let images = [root().join("data/fixtures/grace_hopper.jpg"), root().join("data/sample.mp4")];
    let out = dynamic_batch(
        &[&default_model(), &converted, Path::new("--images"), &images[0], &images[1]],
        &["--per-video", "2", "--batch", "3"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The three [1, 66, -1] head reshapes and the two DFL reshapes carry the batch.
    assert_eq!(report["reshapes_changed"].as_array().unwrap().len(), 5, "{report}");
    assert_eq!(report["check"]["images"], 3);
    assert_eq!(report["check"]["equal"], true, "{report}");

    let cfg = |model: PathBuf, batch| PlayerDetectionConfig {
        model_path: Some(model),
        batch_size: Some(batch),
        intra_threads: 2,
        ..Default::default()
    };
    let mut fixed = PlayerDetector::new(&cfg(default_model(), 1)).unwrap();
    let mut dynamic = PlayerDetector::new(&cfg(converted, 4)).unwrap();
    assert_eq!(fixed.model().batch(), BatchDim::Fixed(1));
    assert_eq!(dynamic.model().batch(), BatchDim::Dynamic);
    let frames = [person_on_grass(512, 210, 300), person_on_grass(100, 300, 280), person_on_grass(900, 60, 400)];
    let refs: Vec<&RgbFrame> = frames.iter().collect();
    let one = fixed.detect(&refs).unwrap();
    let batched = dynamic.detect(&refs).unwrap();
    assert!(one.iter().all(|d| !d.is_empty()), "every frame has a person: {one:?}");
    assert_eq!(batched, one, "batch 3 in one call = three calls of batch 1");
}

/// A model whose batch is folded into another dimension ([1,3,8,8] → Reshape [3, -1] →
/// mean → Reshape [1, 3]): no Reshape starts with the batch, so it stays batch-bound, and
/// the check must catch that batches of 2 mix the images.
const FOLDED: &str = r#"
import sys, numpy as np, onnx
from onnx import helper as h, TensorProto as T, numpy_helper as nh
nodes = [
    h.make_node("Reshape", ["images", "s1"], ["flat"]),
    h.make_node("ReduceMean", ["flat"], ["m"], axes=[1], keepdims=0),
    h.make_node("Reshape", ["m", "s2"], ["out"]),
]
g = h.make_graph(nodes, "folded", [h.make_tensor_value_info("images", T.FLOAT, [1, 3, 8, 8])],
    [h.make_tensor_value_info("out", T.FLOAT, [1, 3])],
    initializer=[nh.from_array(np.array([3, -1], np.int64), "s1"), nh.from_array(np.array([1, 3], np.int64), "s2")])
onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 13)], ir_version=8), sys.argv[1])
"#;

#[test]
fn dynamic_batch_check_fails_on_a_model_it_cannot_fix_and_bad_inputs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let folded = dir.path().join("folded.onnx");
    let st = Command::new(python()).args(["-c", FOLDED]).arg(&folded).status().unwrap();
    assert!(st.success());
    let jpg = root().join("data/fixtures/grace_hopper.jpg");
    let out =
        dynamic_batch(&[&folded, &dir.path().join("o.onnx"), Path::new("--images"), &jpg, &jpg], &["--batch", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("differ from the original"));

    let text = dir.path().join("model.onnx");
    std::fs::write(&text, "not a model").unwrap();
    let out = dynamic_batch(&[&text, &dir.path().join("o.onnx")], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not an ONNX model"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = dynamic_batch(&[&dir.path().join("missing.onnx"), &dir.path().join("o.onnx")], &[]);
    assert_eq!(out.status.code(), Some(2));
}

/// A tiny YOLO-layout detector: [1,3,32,32] → Conv 3×3 (8) → Sigmoid → Conv 1×1 (6) →
/// Reshape [1, 6, -1] → output [1, 6, 1024]: the convolutions are quantized, the Reshape that
/// flattens the feature map into anchors (the decoding) is not.
const TINY: &str = r#"
import sys, numpy as np, onnx
from onnx import helper as h, TensorProto as T, numpy_helper as nh
rng = np.random.default_rng(1)
init = [nh.from_array(rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32), "w1"),
        nh.from_array(rng.normal(0, 0.3, (6, 8, 1, 1)).astype(np.float32), "w2"),
        nh.from_array(np.array([1, 6, -1], np.int64), "shape")]
nodes = [h.make_node("Conv", ["images", "w1"], ["c1"], pads=[1, 1, 1, 1]),
         h.make_node("Sigmoid", ["c1"], ["s1"]),
         h.make_node("Conv", ["s1", "w2"], ["c2"]),
         h.make_node("Reshape", ["c2", "shape"], ["output0"])]
g = h.make_graph(nodes, "tiny", [h.make_tensor_value_info("images", T.FLOAT, [1, 3, 32, 32])],
    [h.make_tensor_value_info("output0", T.FLOAT, [1, 6, 1024])], initializer=init)
onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 13)], ir_version=8), sys.argv[1])
"#;

#[test]
fn int8_quantization_script_quantizes_the_convolutions_only() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = dir.path().join("tiny.onnx");
    assert!(Command::new(python()).args(["-c", TINY]).arg(&tiny).status().unwrap().success());
    let int8 = dir.path().join("tiny-int8.onnx");
    let jpg = root().join("data/fixtures/grace_hopper.jpg");
    let run = |args: &[&std::ffi::OsStr]| {
        Command::new(python()).arg(root().join("scripts/quantize_int8.py")).args(args).output().unwrap()
    };
    let out = run(&[
        tiny.as_os_str(),
        int8.as_os_str(),
        "--calib".as_ref(),
        jpg.as_os_str(),
        "--rounds".as_ref(),
        "1".as_ref(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["quantized"]["float_tail_nodes"], 1, "{r}");
    // Each Conv gets its activation input and its weight quantized (QDQ pairs).
    assert!(r["quantized"]["quantize_nodes"].as_u64().unwrap() >= 2, "{r}");
    assert!(r["ms_per_frame"]["int8"].as_f64().unwrap() > 0.0, "{r}");
    assert_eq!(r["calibration_frames"], 1);
    // Bad inputs: one line, exit 2.
    let out = run(&[dir.path().join("nope.onnx").as_os_str(), int8.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("quantize_int8: "),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[tiny.as_os_str(), int8.as_os_str(), "--calib".as_ref(), dir.path().join("none.mp4").as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
}
