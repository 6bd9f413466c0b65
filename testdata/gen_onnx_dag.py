#!/usr/bin/env python3
"""Generates the branching (DAG) ONNX fixtures in testdata/onnx/ for importer/onnx's
and runtime's tests: torchvision CNNs at reduced width, a two-input two-output torch
model and an onnx.helper graph of broadcasting merges and a channel Concat.

Each fixture is <name>.onnx plus, per graph input k, <name>.inputs.npy (k = 0) or
<name>.inputs.<k>.npy (float32, batch first) and likewise <name>.outputs[.<k>].npy
with what ONNX Runtime returns (one thread).

  /opt/kvenv/bin/python testdata/gen_onnx_dag.py          # the committed fixtures
    - spawns `/usr/bin/python3 testdata/gen_onnx_dag.py --torch DIR` for the torch
      exports, builds the onnx.helper graphs, runs ONNX Runtime on every new file
  /opt/kvenv/bin/python testdata/gen_onnx_dag.py --full DIR   # not committed
    - full-size torchvision resnet18 and mobilenet_v2 (weights=None, random BatchNorm
      statistics) at 224x224, opset 17, for benchmarks and the CLI check, with torch's
      float64 outputs (<name>.outputs_f64.npy)

Pinned versions (what made the checked-in files):
  venv:    onnx==1.23.2 onnxruntime==1.31.1 numpy 2.x
  Debian:  python3-torch 1.13.0a0, python3-torchvision 0.14.1a0 (torch.onnx.export)
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "onnx")
OPSETS = (13, 17)


def randomize_bn(m, torch, nn, gen, shapes):
    """Random BatchNorm statistics that keep the activations of a randomly
    initialised network O(1) so the outputs depend on the input: the statistics of
    a forward pass over random inputs, then scaled by random factors (variance
    x U(0.5, 2), mean + U(-0.3, 0.3) std), random gamma U(0.5, 1.5) and beta
    U(-0.3, 0.3); then eval mode."""
    bns = [bn for bn in m.modules() if isinstance(bn, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the calibration pass
    m.train()
    with torch.no_grad():
        m(*[torch.randn((16,) + tuple(s[1:]), generator=gen) for s in shapes])
        for bn in bns:
            c = bn.num_features
            r = lambda: torch.rand(c, generator=gen)
            sd = bn.running_var.sqrt()
            bn.running_mean.add_((r() * 0.6 - 0.3) * sd)
            bn.running_var.mul_(r() * 1.5 + 0.5)
            bn.weight.copy_(r() + 0.5)
            bn.bias.copy_(r() * 0.6 - 0.3)
    m.eval()


def torch_dag_models(out, full=False):
    import numpy as np
    import torch
    import torchvision
    from torch import nn
    from torchvision.models import efficientnet, mobilenetv3, resnet
    from torchvision.ops.misc import Conv2dNormActivation

    torch.manual_seed(0)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(1)

    class SmallResNet(nn.Module):
        """resnet18's structure (stem, 4 stages of 2 BasicBlocks, the first of stages
        2-4 downsampling with a 1x1 conv + BN shortcut) at 1/16 to 1/10 of its
        widths."""

        def __init__(self, widths=(6, 12, 24, 32), classes=10):
            super().__init__()
            self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(widths[0])
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            stages, cin = [], widths[0]
            for k, w in enumerate(widths):
                stride = 1 if k == 0 else 2
                down = None
                if stride != 1 or cin != w:
                    down = nn.Sequential(resnet.conv1x1(cin, w, stride), nn.BatchNorm2d(w))
                stages.append(nn.Sequential(resnet.BasicBlock(cin, w, stride, down), resnet.BasicBlock(w, w)))
                cin = w
            self.layers = nn.Sequential(*stages)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(cin, classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.avgpool(self.layers(x))
            return self.fc(torch.flatten(x, 1))

    class TwoInTwoOut(nn.Module):
        """image (N,3,10,10) and features (N,5) -> logits (N,4) and a spatial map
        (N,6,5,5) that adds a per-channel projection of the features."""

        def __init__(self):
            super().__init__()
            self.conv = nn.Sequential(nn.Conv2d(3, 6, 3, 2, 1), nn.BatchNorm2d(6), nn.ReLU())
            self.proj = nn.Linear(5, 6)
            self.head = nn.Linear(6 + 6, 4)

        def forward(self, img, feat):
            c = self.conv(img)
            p = torch.tanh(self.proj(feat))
            pooled = torch.flatten(nn.functional.adaptive_avg_pool2d(c, 1), 1)
            logits = self.head(torch.cat([pooled, p], dim=1))
            spatial = c * torch.sigmoid(p)[:, :, None, None] + c
            return logits, spatial

    if full:
        models = [
            ("tv_resnet18_224", torchvision.models.resnet18(weights=None), [(1, 3, 224, 224)]),
            ("tv_mobilenet_v2_224", torchvision.models.mobilenet_v2(weights=None), [(1, 3, 224, 224)]),
        ]
        opsets = (17,)
    else:
        # reduced widths (and last channels, which torchvision does not scale down)
        # keep the files small; the block structure is torchvision's
        mv2 = torchvision.models.mobilenet_v2(weights=None, width_mult=0.25, num_classes=10)
        mv2.features[-1] = Conv2dNormActivation(mv2.features[-1][0].in_channels, 96, kernel_size=1,
                                                activation_layer=nn.ReLU6)
        mv2.classifier[-1] = nn.Linear(96, 10)
        v3, _ = mobilenetv3._mobilenet_v3_conf("mobilenet_v3_small", width_mult=0.25)
        b0, _ = efficientnet._efficientnet_conf("efficientnet_b0", width_mult=0.25, depth_mult=0.34)
        models = [
            ("tv_resnet18s", SmallResNet(), [(2, 3, 64, 64)]),
            ("tv_mobilenet_v2", mv2, [(2, 3, 64, 64)]),
            ("tv_mobilenet_v3_small", mobilenetv3.MobileNetV3(v3, last_channel=96, num_classes=10), [(2, 3, 64, 64)]),
            ("tv_efficientnet_b0", efficientnet.EfficientNet(b0, dropout=0.2, last_channel=96, num_classes=10), [(2, 3, 64, 64)]),
            ("torch_two_io", TwoInTwoOut(), [(2, 3, 10, 10), (2, 5)]),
        ]
        opsets = OPSETS
    rng = np.random.default_rng(11)
    for name, m, shapes in models:
        with torch.no_grad():  # torchvision's N(0, 0.01) classifiers give outputs of ~0.01
            for lin in m.modules():
                if isinstance(lin, nn.Linear):
                    lin.weight.normal_(0, lin.in_features ** -0.5, generator=gen)
        randomize_bn(m, torch, nn, gen, shapes)
        xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        with torch.no_grad():
            ys = m(*[torch.from_numpy(x) for x in xs])
        n_out = len(ys) if isinstance(ys, tuple) else 1
        ins = ["x"] if len(xs) == 1 else [f"x{k}" for k in range(len(xs))]
        outs = ["y"] if n_out == 1 else [f"y{k}" for k in range(n_out)]
        # efficientnet's exports at 13 and 17 are the same graph: one is enough
        for opset in opsets if name != "tv_efficientnet_b0" else opsets[-1:]:
            fn = f"{name}_op{opset}"
            torch.onnx.export(m, tuple(torch.from_numpy(x) for x in xs), os.path.join(out, fn + ".onnx"),
                              opset_version=opset, input_names=ins, output_names=outs,
                              dynamic_axes={v: {0: "N"} for v in ins + outs})
            save_inputs(out, fn, xs)
            print("wrote", fn, os.path.getsize(os.path.join(out, fn + ".onnx")), "bytes")
        if full:  # float64 outputs, to tell float32 rounding from errors
            with torch.no_grad():
                y64 = m.double()(*[torch.from_numpy(x).double() for x in xs])
            np.save(os.path.join(out, fn + ".outputs_f64.npy"), y64.numpy())


def save_inputs(out, fn, xs):
    import numpy as np
    for k, x in enumerate(xs):
        np.save(os.path.join(out, fn + (".inputs.npy" if k == 0 else f".inputs.{k}.npy")), x)


def helper_dag_models(out):
    """Branches joined by broadcasting element-wise ops (Add, Sub, Mul, Max, Min,
    Mean, Sum; operands of shapes (N,C,H,W), (N,C,1,1), (N,1,H,W), (N,C,H,1)), a
    Concat on channels (axis 1 and -3), and a Flatten + Gemm after the branches; two
    outputs (logits and an NCHW map)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(5)
    f32 = lambda *s: (rng.standard_normal(s) * 0.5).astype(np.float32)
    C, H, W = 4, 6, 5
    for opset in OPSETS:
        nodes = [
            helper.make_node("Conv", ["x", "wa", "ba"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),       # (N,8,H,W)
            helper.make_node("Relu", ["a"], ["ar"]),
            helper.make_node("GlobalAveragePool", ["ar"], ["g"]),                                            # (N,8,1,1)
            helper.make_node("Conv", ["g", "wg"], ["gs"], kernel_shape=[1, 1]),
            helper.make_node("Sigmoid", ["gs"], ["gate"]),
            helper.make_node("Mul", ["ar", "gate"], ["se"]),                                                 # SE block
            helper.make_node("Conv", ["x", "wc"], ["c1"], kernel_shape=[1, 1]),                              # (N,1,H,W)
            helper.make_node("Add", ["c1", "se"], ["s1"]),                                                   # channel broadcast
            helper.make_node("MaxPool", ["s1"], ["rowmax"], kernel_shape=[1, W]),                            # (N,8,H,1)
            helper.make_node("Sub", ["s1", "rowmax"], ["s2"]),                                               # W broadcast
            helper.make_node("Max", ["s2", "gate", "c1"], ["m1"]),                                           # 3-way broadcast
            helper.make_node("Min", ["m1", "ar"], ["m2"]),
            helper.make_node("Mean", ["m2", "s1", "se"], ["m3"]),
            helper.make_node("Sum", ["m3", "a", "gate"], ["m4"]),
            helper.make_node("Concat", ["m4", "x"], ["cat"], axis=1),                                        # (N,12,H,W)
            helper.make_node("Conv", ["cat", "wd"], ["d"], kernel_shape=[3, 3], strides=[2, 2]),             # (N,6,2,2)
            helper.make_node("Concat", ["d", "d"], ["dd"], axis=-3),                                         # (N,12,2,2)
            helper.make_node("Flatten", ["dd"], ["f"], axis=1),
            helper.make_node("Gemm", ["f", "wf", "bf"], ["y0"], transB=1),
            helper.make_node("Add", ["m4", "a"], ["y1"]),                                                   # NCHW output
        ]
        inits = [numpy_helper.from_array(v, k) for k, v in {
            "wa": f32(8, C, 3, 3), "ba": f32(8), "wg": f32(8, 8, 1, 1), "wc": f32(1, C, 1, 1),
            "wd": f32(6, 12, 3, 3), "wf": f32(3, 12 * 2 * 2), "bf": f32(3)}.items()]
        g = helper.make_graph(nodes, "dag", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", C, H, W])],
                              [helper.make_tensor_value_info("y0", TensorProto.FLOAT, ["N", 3]),
                               helper.make_tensor_value_info("y1", TensorProto.FLOAT, ["N", 8, H, W])], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="onnx.helper")
        m.ir_version = 8
        onnx.checker.check_model(m, full_check=True)
        fn = f"helper_dag_op{opset}"
        onnx.save(m, os.path.join(out, fn + ".onnx"))
        save_inputs(out, fn, [f32(2, C, H, W) * 2])
        print("wrote", fn)


def reference_outputs(out, prefixes):
    """Runs ONNX Runtime (one thread) on every fixture whose name starts with one of
    prefixes, feeding all its stored inputs, and stores all its outputs."""
    import numpy as np
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    for f in sorted(os.listdir(out)):
        if not f.endswith(".onnx") or not f.startswith(prefixes):
            continue
        base = f[:-5]
        s = ort.InferenceSession(os.path.join(out, f), opts, providers=["CPUExecutionProvider"])
        feed = {}
        for k, i in enumerate(s.get_inputs()):
            feed[i.name] = np.load(os.path.join(out, base + (".inputs.npy" if k == 0 else f".inputs.{k}.npy")))
        ys = s.run(None, feed)
        for k, y in enumerate(ys):
            np.save(os.path.join(out, base + (".outputs.npy" if k == 0 else f".outputs.{k}.npy")), y.astype(np.float32))
        print(base, [v.shape for v in feed.values()], "->", [y.shape for y in ys])


PREFIXES = ("tv_", "torch_two_io", "helper_dag")


def main():
    if len(sys.argv) == 3 and sys.argv[1] in ("--torch", "--torch-full"):
        torch_dag_models(sys.argv[2], full=sys.argv[1] == "--torch-full")
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--full":
        d = os.path.abspath(sys.argv[2])
        os.makedirs(d, exist_ok=True)
        subprocess.run(["/usr/bin/python3", os.path.abspath(__file__), "--torch-full", d], check=True)
        reference_outputs(d, ("tv_",))
        return
    os.makedirs(OUT, exist_ok=True)
    subprocess.run(["/usr/bin/python3", os.path.abspath(__file__), "--torch", OUT], check=True)
    helper_dag_models(OUT)
    reference_outputs(OUT, PREFIXES)


if __name__ == "__main__":
    main()
