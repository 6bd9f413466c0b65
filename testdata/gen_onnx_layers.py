#!/usr/bin/env python3
"""Generates the ONNX fixtures for the ResNet / MobileNet / U-Net layer kinds in
testdata/onnx/ (names torchl_* and helperl_*), beside gen_onnx.py's.

Each fixture is <name>.onnx plus <name>.inputs.npy (float32, batch first) and
<name>.outputs.npy (ONNX Runtime's outputs). Same interpreters and pins as gen_onnx.py:

  /opt/kvenv/bin/python testdata/gen_onnx_layers.py
    - spawns `/usr/bin/python3 testdata/gen_onnx_layers.py --torch DIR` (Debian
      python3-torch 1.13.0a0, torch.onnx.export) for the torch nn.Sequential models
    - builds the helperl_* models node by node with onnx.helper (onnx==1.23.2)
    - runs ONNX Runtime (onnxruntime==1.31.1, one thread) on the new fixtures

torch exports LayerNorm as a LayerNormalization node only from opset 17; at opset 13
it is a ReduceMean/Sub/Pow/Sqrt/Div subgraph that needs the graph DAG, so the LayerNorm
model is exported at opset 17 only.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "onnx")


def torch_models(out):
    import numpy as np
    import torch
    from torch import nn

    torch.manual_seed(10)
    torch.set_num_threads(1)

    class Reduce(nn.Module):
        def __init__(self, kind, dims, keepdim):
            super().__init__()
            self.kind, self.dims, self.keepdim = kind, dims, keepdim

        def forward(self, x):
            if self.kind == "mean":
                return x.mean(dim=self.dims, keepdim=self.keepdim)
            if self.kind == "sum":
                return x.sum(dim=self.dims, keepdim=self.keepdim)
            return torch.amax(x, dim=self.dims, keepdim=self.keepdim)

    class View(nn.Module):
        def __init__(self, *shape):
            super().__init__()
            self.shape = shape

        def forward(self, x):
            return x.reshape((x.shape[0],) + self.shape)

    convt = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), nn.ReLU6(),
        nn.ConvTranspose2d(6, 3, 2, stride=2), nn.Hardswish(),
        nn.ConvTranspose2d(3, 2, 3, stride=1, padding=2, dilation=2, bias=False), nn.Hardsigmoid())
    upsample = nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(2, 3, 1),
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), nn.ReLU6(),
        nn.Upsample(scale_factor=(2, 3), mode="bilinear", align_corners=True), nn.Conv2d(3, 2, 3))
    prelu = nn.Sequential(
        nn.Conv2d(3, 6, 3), nn.PReLU(6), nn.Conv2d(6, 4, 1), nn.PReLU(),
        Reduce("sum", (1,), True), nn.Conv2d(1, 5, 3, padding=1), Reduce("mean", (2, 3), True),
        nn.Flatten(), nn.Linear(5, 3), nn.PReLU(3))
    pool = nn.Sequential(
        nn.Conv2d(3, 6, 3), nn.ReLU(), Reduce("max", (2, 3), False), nn.Linear(6, 4))
    ln = nn.Sequential(
        nn.Conv2d(2, 3, 3), nn.LayerNorm([3, 4, 4]), nn.Flatten(), nn.Linear(48, 10),
        nn.LayerNorm(10), nn.GELU(), View(2, 5), nn.LayerNorm([2, 5], eps=1e-3),
        nn.LayerNorm(5), nn.Flatten(), nn.Linear(10, 3))
    models = [
        ("convt", convt, (2, 3, 5, 4), (13, 17)),
        ("upsample", upsample, (2, 2, 3, 4), (13, 17)),
        ("prelu_reduce", prelu, (2, 3, 7, 6), (13, 17)),
        ("reducemax", pool, (2, 3, 6, 6), (13, 17)),
        ("layernorm", ln, (2, 2, 6, 6), (17,)),
    ]
    rng = np.random.default_rng(11)
    for name, m, shape, opsets in models:
        m.eval()
        with torch.no_grad():  # non-trivial PReLU slopes and LayerNorm affine parameters
            for mm in m.modules():
                if isinstance(mm, nn.PReLU):
                    mm.weight.uniform_(-0.3, 0.6)
                if isinstance(mm, nn.LayerNorm):
                    mm.weight.uniform_(0.5, 1.5)
                    mm.bias.uniform_(-0.5, 0.5)
        x = rng.standard_normal(shape).astype(np.float32)
        for opset in opsets:
            fn = f"torchl_{name}_op{opset}"
            torch.onnx.export(m, torch.from_numpy(x), os.path.join(out, fn + ".onnx"),
                              opset_version=opset, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
            np.save(os.path.join(out, fn + ".inputs.npy"), x)
            print("wrote", fn)


def helper_models(out):
    """Node-by-node models for what torch does not emit: Resize with sizes from Shape,
    half_pixel / round_prefer_ceil / floor / pytorch_half_pixel and shrinking scales,
    ConvTranspose output_shape and auto_pad, ReduceMean-18 with axes as an input,
    ReduceSum-13 / ReduceMax without keepdims."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(12)
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)

    def init(name, a):
        return numpy_helper.from_array(np.asarray(a), name)

    def build(name, nodes, inits, x, yshape, opset):
        g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"] + list(x.shape[1:]))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, yshape)], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="onnx.helper")
        m.ir_version = 8
        return m

    def save(name, nodes, inits, x, opset):
        import onnxruntime as ort
        probe = build(name, nodes, inits, x, None, opset)
        s = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
        yshape = ["N"] + list(s.run(None, {"x": x})[0].shape[1:])
        m = build(name, nodes, inits, x, yshape, opset)
        onnx.checker.check_model(m, full_check=True)
        onnx.save(m, os.path.join(out, name + ".onnx"))
        np.save(os.path.join(out, name + ".inputs.npy"), x)
        print("wrote", name)

    x = f32(2, 3, 5, 4)
    nodes = [
        # sizes as exporters build them: the batch and channels from Shape(x)
        helper.make_node("Shape", ["x"], ["shp"]),
        helper.make_node("Slice", ["shp", "zero", "two"], ["nc"]),
        helper.make_node("Concat", ["nc", "hw"], ["sizes"], axis=0),
        helper.make_node("Resize", ["x", "", "", "sizes"], ["r1"], mode="nearest",
                         coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_ceil"),
        helper.make_node("ConvTranspose", ["r1", "w1", "b1"], ["c1"], strides=[2, 2], output_shape=[14, 18]),
        helper.make_node("Resize", ["c1", "", "scales"], ["r2"], mode="linear"),
        helper.make_node("ConvTranspose", ["r2", "w2"], ["c2"], strides=[2, 1], auto_pad="SAME_UPPER", group=2),
        helper.make_node("ReduceMean", ["c2", "axes"], ["m"], keepdims=1),
        helper.make_node("Clip", ["m", "lo", "hi"], ["y"]),
    ]
    inits = [init("zero", np.array([0], np.int64)), init("two", np.array([2], np.int64)),
             init("hw", np.array([7, 9], np.int64)), init("w1", f32(3, 4, 3, 3) * 0.5), init("b1", f32(4)),
             init("scales", np.array([1, 1, 0.75, 1.5], np.float32)), init("w2", f32(4, 1, 3, 4) * 0.5),
             init("axes", np.array([1], np.int64)), init("lo", np.float32(-0.4)), init("hi", np.float32(0.7))]
    save("helperl_resize_op18", nodes, inits, x, 18)
    # opset 13: ReduceSum's axes are an input, ReduceMax's an attribute; Resize shrinking
    nodes = [
        helper.make_node("Resize", ["x", "", "down"], ["d1"], mode="nearest",
                         coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
        helper.make_node("Resize", ["d1", "", "up"], ["u1"], mode="linear",
                         coordinate_transformation_mode="asymmetric"),
        helper.make_node("Resize", ["u1", "", "up2"], ["u2"], mode="nearest",
                         coordinate_transformation_mode="pytorch_half_pixel", nearest_mode="round_prefer_floor"),
        helper.make_node("ReduceSum", ["u2", "ax1"], ["s"], keepdims=0),
        helper.make_node("ReduceMax", ["s"], ["y"], axes=[-1], keepdims=0),
    ]
    inits = [init("down", np.array([1, 1, 0.5, 0.6], np.float32)), init("up", np.array([1, 1, 3, 2.5], np.float32)),
             init("up2", np.array([1, 1, 1.7, 1.3], np.float32)), init("ax1", np.array([1], np.int64))]
    save("helperl_reduce_op13", nodes, inits, x, 13)
    # 1-D (N, C, L): ConvTranspose with pads and output_padding, Resize linear
    # align_corners, LayerNormalization over (C, L) of the importer's (L, C) layout
    x1 = f32(2, 3, 7)
    nodes = [
        helper.make_node("ConvTranspose", ["x", "w"], ["c"], strides=[3], pads=[1, 2], output_padding=[1], dilations=[2]),
        helper.make_node("Resize", ["c", "", "sc"], ["r"], mode="linear", coordinate_transformation_mode="align_corners"),
        helper.make_node("LayerNormalization", ["r", "g", "b"], ["y"], axis=1, epsilon=1e-4),
    ]
    inits = [init("w", f32(3, 4, 3) * 0.5), init("sc", np.array([1, 1, 1.5], np.float32)),
             init("g", f32(4, 1)), init("b", f32(4, 31))]
    save("helperl_conv1d_op17", nodes, inits, x1, 17)


def reference_outputs(out):
    import numpy as np
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    for f in sorted(os.listdir(out)):
        if not f.endswith(".onnx") or not (f.startswith("torchl_") or f.startswith("helperl_")):
            continue
        base = f[:-5]
        s = ort.InferenceSession(os.path.join(out, f), opts, providers=["CPUExecutionProvider"])
        x = np.load(os.path.join(out, base + ".inputs.npy"))
        (y,) = s.run(None, {s.get_inputs()[0].name: x})[:1]
        np.save(os.path.join(out, base + ".outputs.npy"), y.astype(np.float32))
        print(base, x.shape, "->", y.shape)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--torch":
        torch_models(sys.argv[2])
        return
    which = sys.argv[1:] or ["torch", "helper"]
    if "torch" in which:
        subprocess.run(["/usr/bin/python3", os.path.abspath(__file__), "--torch", OUT], check=True)
    if "helper" in which:
        helper_models(OUT)
    reference_outputs(OUT)


if __name__ == "__main__":
    main()
