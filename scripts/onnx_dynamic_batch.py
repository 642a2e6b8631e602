#!/usr/bin/env python3
"""Turn a fixed-batch ONNX model (a YOLO export with input [B, 3, H, W]) into a dynamic-batch
one, and prove that it computes the same thing.

Usage: onnx_dynamic_batch.py IN.onnx OUT.onnx [--images FILE ...] [--batch N] [--per-video K]
                             [--rtol R] [--atol A]

Conversion (generic, no node names assumed):
  1. The fixed batch size B is the first dimension of the (single) graph input. Dimension 0 of
     the input, and of every output whose dimension 0 is B, becomes the symbol `batch`.
  2. ONNX shape inference of the original model gives the shape of every tensor. A Reshape
     whose target shape is a constant (initializer or Constant node) starting with B, and whose
     data input has B rows, bakes the batch into the graph: its leading B becomes 0, which
     Reshape reads as "copy dimension 0 of the input" (allowzero must be off). For the original
     batch this is the same shape, so the model is unchanged at batch B; at any other batch the
     batch now flows through. A constant shared with other nodes is copied rather than changed.
  3. Intermediate shapes (value_info) are dropped so that ONNX Runtime infers them again.
  4. Other operators that take a constant shape starting with B (Expand, Tile,
     ConstantOfShape) cannot be fixed this way; they are listed and the check below decides.

Check (the script exits 1 when it fails): on real images (default: data/fixtures/grace_hopper.jpg
and frames of data/sample.mp4, letterboxed as footml does), with ONNX Runtime on the CPU,
  * the converted model at batch 1 equals the original, image by image, and
  * the converted model at batch N (--batch, default 4; the last call takes what is left)
    equals the stacked batch-1 outputs of the original,
within rtol/atol (numpy.allclose; default 1e-5 and 1e-4, outputs are in input pixels). Prints
a JSON summary on stdout. Errors (missing file, not ONNX, no fixed batch) exit 2 with one line
on stderr.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
import model_images  # noqa: E402

BATCH_SYMBOL = "batch"


class ConversionError(Exception):
    """The model cannot be converted."""


def _constants(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    consts[n.output[0]] = numpy_helper.to_array(a.t)
    return consts


def _dims(vi: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_param if d.HasField("dim_param") else d.dim_value for d in vi.type.tensor_type.shape.dim]


def make_dynamic(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict]:
    """The dynamic-batch model and a report of what changed."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    g = model.graph
    init_names = {t.name for t in g.initializer}
    inputs = [i for i in g.input if i.name not in init_names]
    if len(inputs) != 1:
        raise ConversionError(f"expected one graph input, found {len(inputs)}: {[i.name for i in inputs]}")
    dims = _dims(inputs[0])
    if not dims or not isinstance(dims[0], int) or dims[0] <= 0:
        raise ConversionError(f"input {inputs[0].name} has no fixed batch dimension: shape {dims}")
    batch = dims[0]

    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {vi.name: _dims(vi) for vi in list(inferred.graph.value_info) + list(inferred.graph.input)
              + list(inferred.graph.output)}
    consts = _constants(g)
    users: dict[str, list[onnx.NodeProto]] = {}
    for n in g.node:
        for i in n.input:
            users.setdefault(i, []).append(n)

    def batch_tied(n: onnx.NodeProto) -> bool:
        if n.op_type != "Reshape" or len(n.input) < 2 or n.input[1] not in consts:
            return False
        if any(a.name == "allowzero" and a.i == 1 for a in n.attribute):
            return False
        target = consts[n.input[1]]
        data = shapes.get(n.input[0])
        return target.ndim == 1 and target.size > 0 and int(target[0]) == batch and bool(data) and data[0] == batch

    changed, copies = [], 0
    for n in g.node:
        if not batch_tied(n):
            continue
        name = n.input[1]
        new = consts[name].copy()
        new[0] = 0
        if all(batch_tied(u) for u in users[name]) and name in init_names:
            for t in g.initializer:
                if t.name == name:
                    t.CopyFrom(numpy_helper.from_array(new, name))
        else:
            # A Constant node, or a constant shared with another kind of user: a new initializer.
            copy_name = f"{name}__dynamic_batch_{len(changed)}"
            g.initializer.append(numpy_helper.from_array(new, copy_name))
            n.input[1] = copy_name
            copies += 1
        changed.append({"node": n.name, "shape": consts[name].tolist(), "now": new.tolist()})

    suspicious = [
        {"node": n.name, "op": n.op_type, "shape": consts[n.input[1]].tolist()}
        for n in g.node
        if n.op_type in ("Expand", "Tile") and len(n.input) > 1 and n.input[1] in consts
        and consts[n.input[1]].ndim == 1 and consts[n.input[1]].size and int(consts[n.input[1]][0]) == batch
    ] + [
        {"node": n.name, "op": n.op_type, "shape": consts[n.input[0]].tolist()}
        for n in g.node
        if n.op_type == "ConstantOfShape" and n.input[0] in consts and consts[n.input[0]].size
        and int(consts[n.input[0]][0]) == batch
    ]

    inputs[0].type.tensor_type.shape.dim[0].dim_param = BATCH_SYMBOL
    for o in g.output:
        d = o.type.tensor_type.shape.dim
        if len(d) and d[0].HasField("dim_value") and d[0].dim_value == batch:
            d[0].dim_param = BATCH_SYMBOL
    del g.value_info[:]
    onnx.checker.check_model(model)
    return model, {"fixed_batch": batch, "reshapes_changed": changed, "constants_copied": copies,
                   "unfixable_batch_constants": suspicious}


def _session(path: Path, threads: int) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def verify(original: Path, converted: Path, images: np.ndarray, n: int, rtol: float, atol: float,
           threads: int = 2) -> dict:
    """Runs both models on `images` and compares, as described in the module docs."""
    a, b = _session(original, threads), _session(converted, threads)
    name = a.get_inputs()[0].name

    def run(sess: ort.InferenceSession, x: np.ndarray) -> list[np.ndarray]:
        return sess.run(None, {name: x})

    ref = [run(a, images[i:i + 1]) for i in range(len(images))]
    one = [run(b, images[i:i + 1]) for i in range(len(images))]
    many = [run(b, images[i:i + n]) for i in range(0, len(images), n)]
    result = {"images": len(images), "batch": n, "outputs": []}
    ok = True
    for k in range(len(ref[0])):
        r = np.concatenate([o[k] for o in ref])
        o1 = np.concatenate([o[k] for o in one])
        on = np.concatenate([o[k] for o in many])
        if r.shape != on.shape or r.shape != o1.shape:
            result["outputs"].append({"index": k, "shape": list(r.shape), "batch_shape": list(on.shape)})
            ok = False
            continue
        eq1, eqn = np.allclose(o1, r, rtol=rtol, atol=atol), np.allclose(on, r, rtol=rtol, atol=atol)
        ok &= bool(eq1 and eqn)
        result["outputs"].append({
            "index": k, "shape": list(r.shape),
            "max_abs_diff_batch1": float(np.abs(o1 - r).max()),
            "max_abs_diff_batchN": float(np.abs(on - r).max()),
            "exactly_equal_batchN": bool(np.array_equal(on, r)),
            "equal": bool(eq1 and eqn),
        })
    result["equal"] = ok
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("input", type=Path)
    p.add_argument("output", type=Path)
    p.add_argument("--images", type=Path, nargs="+", help="images or videos (default: the project's real ones)")
    p.add_argument("--per-video", type=int, default=4, help="frames taken from each video")
    p.add_argument("--batch", type=int, default=4, help="batch size of the check")
    p.add_argument("--rtol", type=float, default=1e-5)
    p.add_argument("--atol", type=float, default=1e-4)
    args = p.parse_args(argv)
    try:
        if args.batch < 2:
            raise ConversionError(f"--batch must be at least 2, found {args.batch}")
        if not args.input.is_file():
            raise ConversionError(f"{args.input}: no such file")
        try:
            model = onnx.load(str(args.input))
        except Exception as e:  # onnx raises DecodeError and others for a bad file
            raise ConversionError(f"{args.input}: not an ONNX model: {e}") from e
        dynamic, report = make_dynamic(model)
        onnx.save(dynamic, str(args.output))
        in_dims = _dims([i for i in model.graph.input][0])
        h, w = int(in_dims[2]), int(in_dims[3])
        images = model_images.load_all(args.images or model_images.default_sources(), w, h, args.per_video)
    except (ConversionError, model_images.ImageError, onnx.checker.ValidationError) as e:
        print(f"onnx_dynamic_batch: {e}", file=sys.stderr)
        return 2
    report["check"] = verify(args.input, args.output, images, args.batch, args.rtol, args.atol)
    print(json.dumps(report, indent=1))
    if not report["check"]["equal"]:
        print("onnx_dynamic_batch: the converted model's outputs differ from the original's", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
