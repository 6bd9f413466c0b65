#!/usr/bin/env python3
"""Generates the ONNX fixtures of issue 16's op families in testdata/onnx/ (names
torchb_* and helperb_*), beside gen_onnx.py's; TestONNXZooEveryISA runs them against
ONNX Runtime on every kernel path like every other fixture there.

  /opt/kvenv/bin/python testdata/gen_onnx_breadth.py
    - spawns `/usr/bin/python3 testdata/gen_onnx_breadth.py --torch DIR` (Debian
      python3-torch 1.13.0a0, torch.onnx.export) for the torch models
    - builds the helperb_* models node by node with onnx.helper (onnx==1.23.2)
    - runs ONNX Runtime (onnxruntime==1.31.1, one thread) on the new fixtures

helperb_unary_op13: every op of the element-wise family (layers.Unary, ConstBinary,
Merge Div/Pow, Where, Max and Min with constants) on one input, summed; helperb_remap_op13: Split on channels, Tile, Pad
reflect/edge/constant 1.5, Slice with a step on channels and W, InstanceNormalization;
helperb_old_op7 / helperb_old_op10: the old node forms (Upsample-7 scales attribute,
BatchNormalization spatial, Dropout ratio, Slice/Pad/Clip attributes, Resize-10);
torchb_layernorm_op13: torch LayerNorm below opset 17 (ReduceMean/Sub/Pow/Sqrt/Div);
torchb_(bi)lstm_y_yh_op13: an LSTM whose Y and Y_h are both read; helperb_hardmax_op11/13:
Hardmax (and Softmax) with the pre-13 2-D coercion and the axis form; helperb_reduce_op13:
every ONNX reduction.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "onnx")
PREFIXES = ("torchb_", "helperb_")


def torch_models(out):
    import numpy as np
    import torch
    from torch import nn

    torch.manual_seed(31)
    torch.set_num_threads(1)

    class LN(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(12, 16)
            self.ln = nn.LayerNorm(16)
            self.b = nn.Linear(16, 4)
            self.ln2 = nn.LayerNorm([8, 4], eps=1e-3)

        def forward(self, x):
            return self.ln2(self.b(torch.relu(self.ln(self.a(x)))))

    class YAndH(nn.Module):  # LSTM Y and Y_h both read (issue 10)
        def __init__(self, bidir):
            super().__init__()
            self.lstm = nn.LSTM(5, 6, batch_first=True, bidirectional=bidir)
            self.bidir = bidir

        def forward(self, x):
            y, (h, _) = self.lstm(x)
            hl = torch.cat([h[0], h[1]], 1) if self.bidir else h[0]
            return y.mean(dim=1) * 0.5 + hl

    for name, bidir in (("lstm_y_yh", False), ("bilstm_y_yh", True)):
        m = YAndH(bidir).eval()
        x = np.random.default_rng(34).standard_normal((3, 7, 5)).astype(np.float32)
        fn = f"torchb_{name}_op13"
        torch.onnx.export(m, torch.from_numpy(x), os.path.join(out, fn + ".onnx"), opset_version=13,
                          input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
        np.save(os.path.join(out, fn + ".inputs.npy"), x)
        print("wrote", fn)

    m = LN()
    with torch.no_grad():
        for ln in (m.ln, m.ln2):
            ln.weight.uniform_(0.5, 1.5)
            ln.bias.uniform_(-0.5, 0.5)
    m.eval()
    x = np.random.default_rng(32).standard_normal((2, 8, 12)).astype(np.float32)
    for opset in (11, 13):
        fn = f"torchb_layernorm_op{opset}"
        torch.onnx.export(m, torch.from_numpy(x), os.path.join(out, fn + ".onnx"), opset_version=opset,
                          input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
        np.save(os.path.join(out, fn + ".inputs.npy"), x)
        print("wrote", fn)


def helper_models(out):
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(33)
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)

    def init(name, a):
        return numpy_helper.from_array(np.asarray(a), name)

    def build(name, nodes, inits, x, yshape, opset):
        g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"] + list(x.shape[1:]))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, yshape)], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="onnx.helper")
        m.ir_version = 7
        return m

    def save(name, nodes, inits, x, opset):
        probe = build(name, nodes, inits, x, None, opset)
        s = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
        yshape = ["N"] + list(s.run(None, {"x": x})[0].shape[1:])
        m = build(name, nodes, inits, x, yshape, opset)
        onnx.checker.check_model(m, full_check=True)
        onnx.save(m, os.path.join(out, name + ".onnx"))
        np.save(os.path.join(out, name + ".inputs.npy"), x)
        print("wrote", name)

    N = helper.make_node
    # element-wise family; Floor/Ceil/Round/Sign read the input itself (exact values),
    # the transcendental ops read O(1) values
    x = (f32(3, 4, 5) * 2).astype(np.float32)
    nodes = [
        N("Floor", ["x"], ["fl"]), N("Ceil", ["x"], ["ce"]), N("Round", ["x"], ["ro"]), N("Sign", ["x"], ["sg"]),
        N("Abs", ["x"], ["ab"]), N("Add", ["ab", "half"], ["u"]), N("Sqrt", ["u"], ["sq"]), N("Log", ["u"], ["lg"]),
        N("Reciprocal", ["u"], ["rc"]), N("Erf", ["x"], ["er"]), N("Sin", ["x"], ["sn"]), N("Cos", ["x"], ["cs"]),
        N("Shrink", ["x"], ["sh"], lambd=0.7, bias=0.2), N("Neg", ["x"], ["ng"]), N("Atan", ["x"], ["at"]),
        N("Pow", ["u", "p15"], ["pc"]), N("Div", ["x", "u"], ["dv"]), N("Pow", ["u", "sn"], ["pw"]),
        N("Div", ["two", "u"], ["rd"]), N("Div", ["vec", "u"], ["rv"]), N("Pow", ["vec2", "sn"], ["rp"]),
        N("Where", ["mask", "x", "minus"], ["w1"]), N("Where", ["mask2", "two", "x"], ["w2"]),
        N("Max", ["x", "half"], ["mx"]), N("Min", ["vec", "x"], ["mn"]),
        N("Sum", ["fl", "ce", "ro", "sg", "sq", "lg", "rc", "er", "sn", "cs", "sh", "ng", "at", "pc", "dv", "pw", "rd", "rv", "rp", "w1", "w2", "mx", "mn"], ["y"]),
    ]
    inits = [init("half", np.float32(0.5)), init("p15", np.float32(1.5)), init("two", np.float32(2)),
             init("vec", rng.uniform(0.5, 2, (5,)).astype(np.float32)),
             init("vec2", rng.uniform(0.5, 2, (4, 1)).astype(np.float32)),
             init("mask", rng.uniform(size=(4, 5)) < 0.5), init("minus", np.float32(-1.5)),
             init("mask2", rng.uniform(size=(5,)) < 0.5)]
    save("helperb_unary_op13", nodes, inits, x, 13)

    x = f32(2, 6, 5, 4)
    nodes = [
        N("Split", ["x", "parts"], ["s0", "s1"], axis=1),
        N("Tile", ["s0", "reps"], ["t"]), N("Mul", ["t", "s1"], ["m"]),
        N("Pad", ["m", "pr"], ["p1"], mode="reflect"), N("Pad", ["p1", "pe"], ["p2"], mode="edge"),
        N("Pad", ["p2", "pc", "cv"], ["p3"], mode="constant"),
        N("Slice", ["p3", "st", "en", "ax", "sp"], ["sl"]),
        N("InstanceNormalization", ["sl", "isc", "ib"], ["y"], epsilon=1e-4),
    ]
    inits = [init("parts", np.array([2, 4], np.int64)), init("reps", np.array([1, 2, 1, 1], np.int64)),
             init("pr", np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64)), init("pe", np.array([0, 0, 0, 2, 0, 0, 1, 0], np.int64)),
             init("pc", np.array([0, 1, 1, 0, 0, 0, 0, 1], np.int64)), init("cv", np.float32(1.5)),
             init("st", np.array([1, 0], np.int64)), init("en", np.array([5, 100], np.int64)),
             init("ax", np.array([1, 3], np.int64)), init("sp", np.array([2, 2], np.int64)),
             init("isc", rng.uniform(0.5, 1.5, (2,)).astype(np.float32)), init("ib", f32(2))]
    save("helperb_remap_op13", nodes, inits, x, 13)

    x = f32(2, 3, 4, 5)
    c = 3
    bn = [init("g", rng.uniform(0.5, 1.5, (c,)).astype(np.float32)), init("b", f32(c)), init("mu", f32(c)),
          init("var", rng.uniform(0.5, 2, (c,)).astype(np.float32))]
    nodes = [
        N("Upsample", ["x"], ["u"], mode="nearest", scales=[1.0, 1.0, 2.0, 1.5]),
        N("BatchNormalization", ["u", "g", "b", "mu", "var"], ["bn"], spatial=1, epsilon=1e-3),
        N("Dropout", ["bn"], ["dr"], ratio=0.4),
        N("Slice", ["dr"], ["sl"], starts=[1, 1], ends=[7, 100], axes=[2, 3]),
        N("Pad", ["sl"], ["pd"], pads=[0, 0, 1, 0, 0, 0, 0, 2], value=-0.5, mode="constant"),
        N("Clip", ["pd"], ["y"], min=-0.8, max=0.9),
    ]
    save("helperb_old_op7", nodes, bn, x, 7)
    nodes = [
        N("Resize", ["x", "sc"], ["r"], mode="linear"),
        N("BatchNormalization", ["r", "g", "b", "mu", "var"], ["bn"], epsilon=1e-3),
        N("Slice", ["bn", "st", "en", "ax", "sp"], ["sl"]),
        N("Dropout", ["sl"], ["y"], ratio=0.4),
    ]
    inits = bn + [init("sc", np.array([1, 1, 2, 2], np.float32)), init("st", np.array([7, 0], np.int64)),
                  init("en", np.array([0, 9], np.int64)), init("ax", np.array([2, 3], np.int64)), init("sp", np.array([-2, 3], np.int64))]
    save("helperb_old_op10", nodes, inits, x, 10)

    # every reduction, over H and W and over C, keepdims (summed to one output)
    x = f32(2, 3, 4, 5)
    nodes = [N("Abs", ["x"], ["ax"]), N("Add", ["ax", "half"], ["pos"])]
    outs = []
    for k, op in enumerate(["ReduceMin", "ReduceProd", "ReduceSumSquare", "ReduceL1", "ReduceL2",
                            "ReduceLogSum", "ReduceLogSumExp", "ReduceMean", "ReduceMax"]):
        src = "pos" if op in ("ReduceLogSum", "ReduceProd") else "x"
        nodes.append(N(op, [src], [f"r{k}"], axes=[2, 3] if k % 2 else [1], keepdims=1))
        outs.append(f"r{k}")
    nodes.append(N("Sum", outs, ["y"]))
    save("helperb_reduce_op13", nodes, [init("half", np.float32(0.5))], x, 13)

    # Hardmax: flattened to 2-D at axis before opset 13, along axis from 13; the
    # softmax beside it keeps the output informative beyond the one-hot
    x = f32(2, 3, 4)
    for opset in (11, 13):
        nodes = [N("Hardmax", ["x"], ["h"], axis=1), N("Softmax", ["x"], ["s"], axis=1), N("Add", ["h", "s"], ["y"])]
        save(f"helperb_hardmax_op{opset}", nodes, [], x, opset)


def reference_outputs(out):
    import numpy as np
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    for f in sorted(os.listdir(out)):
        if not f.endswith(".onnx") or not f.startswith(PREFIXES):
            continue
        base = f[:-5]
        s = ort.InferenceSession(os.path.join(out, f), opts, providers=["CPUExecutionProvider"])
        x = np.load(os.path.join(out, base + ".inputs.npy"))
        (y,) = s.run(None, {s.get_inputs()[0].name: x})[:1]
        np.save(os.path.join(out, base + ".outputs.npy"), y.astype(np.float32))
        print(base, x.shape, "->", y.shape, "max |y|", float(np.abs(y).max()))


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
