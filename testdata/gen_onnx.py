#!/usr/bin/env python3
"""Generates the ONNX fixtures in testdata/onnx/ for importer/onnx's tests.

Each fixture is <name>.onnx plus <name>.inputs.npy (float32, or int64 token ids, batch first) and
<name>.outputs.npy (what ONNX Runtime returns for those inputs).

Two interpreters, because Debian's PyTorch is not in the venv:

  /opt/kvenv/bin/python testdata/gen_onnx.py            # runs everything below
    - Keras models, converted with Keras 3's model.export(format="onnx") (tf2onnx)
    - spawns `/usr/bin/python3 testdata/gen_onnx.py --torch DIR` for the PyTorch models
    - runs ONNX Runtime on every fixture to write <name>.outputs.npy

Pinned versions (what made the checked-in files):
  venv:    tensorflow-cpu==2.21.0 keras==3.15.1 tf2onnx==1.17.0 onnx==1.23.2
           onnxruntime==1.31.1 numpy 2.x
  Debian:  python3-torch 1.13.0a0 (torch.onnx.export), python3-onnx 1.12.0

Keras GRUs are not among the tf2onnx models: tf2onnx 1.17 turns a Keras 3 GRU into a
Loop, not an ONNX GRU node (the torch and helper models cover GRU and RNN).
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "onnx")
SEQ = os.path.join(HERE, "seq", "onnx")


def torch_models(out):
    import numpy as np
    import torch
    from torch import nn

    torch.manual_seed(0)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(8, 16), nn.ReLU(),
                nn.Linear(16, 16), nn.GELU(),
                nn.Linear(16, 12), nn.SiLU(),
                nn.Linear(12, 12), nn.Hardswish(),
                nn.Linear(12, 10), nn.ELU(), nn.LeakyReLU(0.1), nn.Tanh(),
                nn.Linear(10, 4), nn.Softmax(dim=-1))

        def forward(self, x):
            return self.net(x)

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.f = nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.ReLU6(),
                nn.Conv2d(8, 6, 1), nn.Sigmoid(),
                nn.AvgPool2d(2, stride=1),
                nn.Conv2d(6, 4, 2, stride=2, padding=(1, 0), dilation=1),
                nn.Flatten(), nn.Linear(4 * 2 * 1, 5))

        def forward(self, x):
            return self.f(x)

    class LSTMLast(nn.Module):
        def __init__(self, layers=1):
            super().__init__()
            self.lstm = nn.LSTM(6, 12, num_layers=layers, batch_first=True)
            self.fc = nn.Linear(12, 3)

        def forward(self, x):
            y, _ = self.lstm(x)
            return self.fc(y[:, -1, :])

    class BiLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(6, 8, bidirectional=True, batch_first=True)
            self.fc = nn.Linear(16, 3)

        def forward(self, x):
            y, _ = self.lstm(x)
            return self.fc(y)

    class LSTMHn(nn.Module):
        # final hidden state output (Y_h), reverse-free single layer
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(4, 7, batch_first=True)
            self.fc = nn.Linear(7, 2)

        def forward(self, x):
            _, (h, _) = self.lstm(x)
            return self.fc(h[0])

    class GRULast(nn.Module):
        # 2-layer GRU, last time step of the top layer's sequence
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(6, 10, num_layers=2, batch_first=True)
            self.fc = nn.Linear(10, 3)

        def forward(self, x):
            y, _ = self.gru(x)
            return self.fc(y[:, -1, :])

    class BiGRU(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(6, 8, bidirectional=True, batch_first=True)
            self.fc = nn.Linear(16, 3)

        def forward(self, x):
            y, _ = self.gru(x)
            return self.fc(y)

    class GRUHn(nn.Module):
        # final hidden state output (Y_h)
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(4, 7, batch_first=True)
            self.fc = nn.Linear(7, 2)

        def forward(self, x):
            _, h = self.gru(x)
            return self.fc(h[0])

    class RNNLast(nn.Module):
        # 2-layer tanh RNN, last time step
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(5, 7, num_layers=2, batch_first=True)
            self.fc = nn.Linear(7, 2)

        def forward(self, x):
            y, _ = self.rnn(x)
            return self.fc(y[:, -1, :])

    class BiRNNRelu(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(5, 6, nonlinearity="relu", bidirectional=True, batch_first=True)
            self.fc = nn.Linear(12, 2)

        def forward(self, x):
            y, _ = self.rnn(x)
            return self.fc(y)

    models = [
        ("mlp", MLP(), (3, 8), {0: "N"}),
        ("cnn", CNN(), (2, 3, 8, 8), {0: "N"}),
        ("lstm", LSTMLast(1), (3, 5, 6), {0: "N"}),
        ("lstm2", LSTMLast(2), (2, 5, 6), {0: "N"}),
        ("bilstm", BiLSTM(), (2, 5, 6), {0: "N"}),
        ("lstm_hn", LSTMHn(), (3, 5, 4), {0: "N"}),
        # appended last: models built earlier keep their seeded weights
        ("gru2", GRULast(), (2, 7, 6), {0: "N"}),
        ("bigru", BiGRU(), (2, 5, 6), {0: "N"}),
        ("gru_hn", GRUHn(), (3, 6, 4), {0: "N"}),
        ("rnn_tanh", RNNLast(), (2, 6, 5), {0: "N"}),
        ("birnn_relu", BiRNNRelu(), (2, 5, 5), {0: "N"}),
    ]
    rng = np.random.default_rng(42)
    for name, m, shape, axes in models:
        m.eval()
        if name == "cnn":  # non-trivial batch-norm statistics
            with torch.no_grad():
                for bn in [mm for mm in m.modules() if isinstance(mm, nn.BatchNorm2d)]:
                    bn.running_mean.uniform_(-0.5, 0.5)
                    bn.running_var.uniform_(0.5, 2)
                    bn.weight.uniform_(0.5, 1.5)
                    bn.bias.uniform_(-0.5, 0.5)
        x = rng.standard_normal(shape).astype(np.float32)
        for opset in (13, 17):
            fn = f"torch_{name}_op{opset}"
            torch.onnx.export(m, torch.from_numpy(x), os.path.join(out, fn + ".onnx"),
                              opset_version=opset, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": axes, "y": {0: "N"}},
                              # opset 13 files keep BatchNormalization and the shape
                              # subgraphs unfolded, to exercise the importer's folding
                              do_constant_folding=opset != 13)
            np.save(os.path.join(out, fn + ".inputs.npy"), x)
            print("wrote", fn)


def torch_id_models(out):
    """Token-id classifiers: int64 ids -> nn.Embedding -> nn.LSTM -> nn.Linear."""
    import numpy as np
    import torch
    from torch import nn

    torch.manual_seed(1)

    class EmbedLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(50, 8)
            self.lstm = nn.LSTM(8, 16, batch_first=True)
            self.fc = nn.Linear(16, 3)

        def forward(self, ids):
            y, _ = self.lstm(self.emb(ids))
            return self.fc(y[:, -1, :])

    m = EmbedLSTM().eval()
    rng = np.random.default_rng(43)
    ids = rng.integers(0, 50, (3, 12)).astype(np.int64)
    ids[0, -1] = 49
    for opset in (13, 17):
        fn = f"torch_embed_lstm_op{opset}"
        torch.onnx.export(m, torch.from_numpy(ids), os.path.join(out, fn + ".onnx"),
                          opset_version=opset, input_names=["ids"], output_names=["y"],
                          dynamic_axes={"ids": {0: "N"}, "y": {0: "N"}},
                          do_constant_folding=opset != 13)
        np.save(os.path.join(out, fn + ".inputs.npy"), ids)
        print("wrote", fn)
    # a dynamic sequence axis (testdata/seq/onnx: imported with onnx.Options{SeqLen}),
    # with ONNX Runtime's outputs at two lengths (dyn_reference_outputs)
    fn = "torch_embed_lstm_dyn_op17"
    torch.onnx.export(m, torch.from_numpy(ids), os.path.join(SEQ, fn + ".onnx"),
                      opset_version=17, input_names=["ids"], output_names=["y"],
                      dynamic_axes={"ids": {0: "N", 1: "T"}, "y": {0: "N"}})
    np.save(os.path.join(SEQ, fn + ".inputs.npy"), ids)
    np.save(os.path.join(SEQ, fn + ".L5.inputs.npy"), np.ascontiguousarray(ids[:, :5]))
    print("wrote", fn)
    torch_packed_gru()


def torch_packed_gru():
    """A torch Embedding -> pack_padded_sequence(enforce_sorted=True) -> GRU -> Linear
    model: torch exports the lengths as Cast(lens) -> GRU sequence_lens. Writes
    testdata/seq/onnx/torch_packed_gru_op13.{onnx,ids.npy,lens.npy,y.npy}, y being
    torch's own output (runs under /usr/bin/python3, Debian's torch)."""
    import numpy as np
    import torch
    from torch import nn

    torch.manual_seed(5)

    class PackedGRU(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(50, 8)
            self.gru = nn.GRU(8, 16, batch_first=True)
            self.fc = nn.Linear(16, 3)

        def forward(self, ids, lens):
            p = nn.utils.rnn.pack_padded_sequence(self.emb(ids), lens, batch_first=True)
            _, h = self.gru(p)
            return self.fc(h[-1])

    m = PackedGRU().eval()
    rng = np.random.default_rng(47)
    lens = np.array([7, 5, 3, 1], dtype=np.int64)  # sorted, as enforce_sorted wants
    ids = rng.integers(1, 50, (4, 7)).astype(np.int64)
    for b, n in enumerate(lens):
        ids[b, n:] = 0
    with torch.no_grad():
        y = m(torch.from_numpy(ids), torch.from_numpy(lens)).numpy()
    fn = "torch_packed_gru_op13"
    torch.onnx.export(m, (torch.from_numpy(ids), torch.from_numpy(lens)), os.path.join(SEQ, fn + ".onnx"),
                      opset_version=13, input_names=["ids", "lens"], output_names=["y"],
                      dynamic_axes={"ids": {0: "N"}, "lens": {0: "N"}, "y": {0: "N"}})
    np.save(os.path.join(SEQ, fn + ".ids.npy"), ids)
    np.save(os.path.join(SEQ, fn + ".lens.npy"), lens)
    np.save(os.path.join(SEQ, fn + ".y.npy"), y.astype(np.float32))
    print("wrote", fn)


def dyn_reference_outputs():
    import numpy as np
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(os.path.join(SEQ, "torch_embed_lstm_dyn_op17.onnx"), so,
                             providers=["CPUExecutionProvider"])
    for stem in ("torch_embed_lstm_dyn_op17", "torch_embed_lstm_dyn_op17.L5"):
        x = np.load(os.path.join(SEQ, stem + ".inputs.npy"))
        (y,) = s.run(None, {"ids": x})
        np.save(os.path.join(SEQ, stem + ".outputs.npy"), y.astype(np.float32))
        print(stem, x.shape, "->", y.shape)


def keras_models(out):
    import numpy as np
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    from keras import layers

    keras.utils.set_random_seed(1)
    bias = {"bias_initializer": "random_normal"}  # non-zero biases: tf2onnx emits Add
    rng = np.random.default_rng(7)

    def bn_stats(m):
        for l in m.layers:
            if isinstance(l, layers.BatchNormalization):
                g, b, mu, var = l.get_weights()
                l.set_weights([rng.uniform(0.5, 1.5, g.shape).astype("float32"),
                               rng.uniform(-0.5, 0.5, b.shape).astype("float32"),
                               rng.uniform(-0.5, 0.5, mu.shape).astype("float32"),
                               rng.uniform(0.5, 2, var.shape).astype("float32")])

    mlp = keras.Sequential([keras.Input((10,)), layers.Dense(16, activation="relu", **bias),
                            layers.Dense(12, activation="selu"),  # gelu: tf2onnx emits Erfc, not an ONNX op
                            layers.Dense(8, activation="swish"),
                            layers.Dense(4, activation="softmax", **bias)])
    cnn = keras.Sequential([keras.Input((8, 8, 3)),
                            layers.Conv2D(8, 3, padding="same", activation="relu", **bias),
                            layers.BatchNormalization(),
                            layers.MaxPooling2D(2),
                            layers.DepthwiseConv2D(3, padding="same"),
                            layers.Conv2D(6, 3, strides=2, padding="valid", activation="elu"),
                            layers.AveragePooling2D(1),
                            layers.Flatten(),
                            layers.Dense(5, activation="sigmoid", **bias)])
    gap = keras.Sequential([keras.Input((9, 9, 2)),
                            layers.Conv2D(4, 3, strides=2, padding="same", activation="relu6"),
                            layers.GlobalAveragePooling2D(),
                            layers.Dense(3, **bias)])
    lstm = keras.Sequential([keras.Input((6, 5)), layers.LSTM(8, return_sequences=True),
                             layers.LSTM(7), layers.Dense(3)])
    bilstm = keras.Sequential([keras.Input((6, 5)),
                               layers.Bidirectional(layers.LSTM(6, return_sequences=True)),
                               layers.Dense(2, **bias)])
    models = [("mlp", mlp, (3, 10)), ("cnn", cnn, (2, 8, 8, 3)), ("gap", gap, (2, 9, 9, 2)),
              ("lstm", lstm, (2, 6, 5)), ("bilstm", bilstm, (2, 6, 5))]
    for name, m, shape in models:
        bn_stats(m)
        x = rng.standard_normal(shape).astype(np.float32)
        m(x)  # export needs a model that has been called
        for opset in (13, 17):
            fn = f"keras_{name}_op{opset}"
            path = os.path.join(out, fn + ".onnx")
            try:
                m.export(path, format="onnx", opset_version=opset, verbose=False)
            except Exception as e:  # record and go on: the test skips absent files
                print("FAILED", fn, type(e).__name__, e)
                continue
            np.save(os.path.join(out, fn + ".inputs.npy"), x)
            print("wrote", fn)


def helper_models(out):
    """Small models built node by node with onnx.helper, for what the exporters above
    do not emit: opset 20 Gelu, opset 11 Softmax (flatten-to-2D), a spatial NCHW
    output, SAME_LOWER, count_include_pad, Pad (also negative, cropping), MaxPool
    ceil_mode=1, LSTM layout=1 / reverse / initial state, Clip bounds as inputs."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(3)

    def init(name, a):
        return numpy_helper.from_array(np.asarray(a), name)

    def save(name, nodes, inits, x, yshape, opset, full_check=True):
        g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"] + list(x.shape[1:]))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N"] + list(yshape))], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="onnx.helper")
        m.ir_version = 8
        onnx.checker.check_model(m, full_check=full_check)
        onnx.save(m, os.path.join(out, name + ".onnx"))
        np.save(os.path.join(out, name + ".inputs.npy"), x)
        print("wrote", name)

    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)
    # conv net with a spatial NCHW output
    for opset in (11, 20):
        nodes = [
            helper.make_node("Pad", ["x", "pads"], ["p"], mode="constant"),
            helper.make_node("Conv", ["p", "w1", "b1"], ["c1"], auto_pad="SAME_LOWER", strides=[2, 2], kernel_shape=[3, 3]),
            helper.make_node("Clip", ["c1", "lo", "hi"], ["r1"]),
            helper.make_node("AveragePool", ["r1"], ["a1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1),
            helper.make_node("Conv", ["a1", "w2"], ["c2"], group=4, kernel_shape=[3, 3], pads=[1, 0, 1, 2], dilations=[1, 2]),
            helper.make_node("Gelu", ["c2"], ["g"]) if opset >= 20 else helper.make_node("LeakyRelu", ["c2"], ["g"], alpha=0.2),
            helper.make_node("Softmax", ["g"], ["y"], axis=1),
        ]
        inits = [init("pads", np.array([0, 0, 1, 0, 0, 0, 0, 2], np.int64)), init("w1", f32(4, 3, 3, 3)), init("b1", f32(4)),
                 init("lo", np.float32(-0.5)), init("hi", np.float32(1.5)), init("w2", f32(8, 1, 3, 3))]
        x = f32(2, 3, 9, 7)
        ys = onnxruntime_shape(nodes, inits, x, opset)
        save(f"helper_convout_op{opset}", nodes, inits, x, ys, opset)
    # reverse LSTM with a constant initial state broadcast over the batch by Expand
    # (ONNX Runtime does not run layout=1 LSTMs), Y flattened per sample
    h, t, i = 5, 4, 3
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
        helper.make_node("Shape", ["x"], ["sh"]),
        helper.make_node("Slice", ["sh", "zero", "one"], ["nb"]),
        helper.make_node("Concat", ["one", "nb", "hh"], ["hs"], axis=0),
        helper.make_node("Expand", ["h0c", "hs"], ["h0"]),
        helper.make_node("Expand", ["c0c", "hs"], ["c0"]),
        helper.make_node("LSTM", ["xt", "W", "R", "B", "", "h0", "c0"], ["Y"], hidden_size=h, direction="reverse"),
        helper.make_node("Squeeze", ["Y", "one"], ["s"]),
        helper.make_node("Transpose", ["s"], ["st"], perm=[1, 0, 2]),
        helper.make_node("Reshape", ["st", "shape"], ["r"]),
        helper.make_node("MatMul", ["r", "fc"], ["m"]),
        helper.make_node("Add", ["m", "fb"], ["y"]),
    ]
    inits = [init("W", f32(1, 4 * h, i) * 0.5), init("R", f32(1, 4 * h, h) * 0.5), init("B", f32(1, 8 * h) * 0.1),
             init("h0c", f32(1, 1, h)), init("c0c", f32(1, 1, h)), init("zero", np.array([0], np.int64)),
             init("one", np.array([1], np.int64)), init("hh", np.array([h], np.int64)),
             init("shape", np.array([0, -1], np.int64)), init("fc", f32(t * h, 2)), init("fb", f32(2))]
    save("helper_lstm_reverse_op14", nodes, inits, f32(3, t, i), (2,), 14)
    # MaxPool ceil_mode=1: the last window overhangs the input (ceil adds one output:
    # on H in the first pool, on W in the dilated second one, which also pads H).
    def ceil_pools(second):
        return [
            helper.make_node("MaxPool", ["x"], ["m1"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
            second,
            helper.make_node("Conv", ["m2", "w"], ["y"], kernel_shape=[1, 1]),
        ]
    x = f32(2, 3, 10, 9)
    inits = [init("w", f32(4, 3, 1, 1))]
    nodes = ceil_pools(helper.make_node("MaxPool", ["m1"], ["m2"], kernel_shape=[2, 3], strides=[3, 2], dilations=[2, 1],
                                        pads=[1, 0, 0, 0], ceil_mode=1))
    save("helper_maxpool_ceil_op13", nodes, inits, x, onnxruntime_shape(nodes, inits, x, 13), 13)
    # A second pool whose ceil window on W would start in the right padding. ONNX
    # Runtime (like PyTorch) drops such a window; onnx 1.23's shape inference keeps it,
    # so this file skips the full (inferring) check and declares ONNX Runtime's shape.
    nodes = ceil_pools(helper.make_node("MaxPool", ["m1"], ["m2"], kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 1, 1], ceil_mode=1))
    save("helper_maxpool_ceil_padstart_op13", nodes, inits, x, onnxruntime_shape(nodes, inits, x, 13), 13, full_check=False)
    # Pad with negative pads: crops H at the top and W at the right while padding
    # H at the bottom and W at the left; then a crop-only Pad.
    nodes = [
        helper.make_node("Pad", ["x", "pads1"], ["p1"], mode="constant"),
        helper.make_node("Conv", ["p1", "w"], ["c"], kernel_shape=[3, 3]),
        helper.make_node("Pad", ["c", "pads2"], ["y"]),
    ]
    inits = [init("pads1", np.array([0, 0, -1, 2, 0, 0, 1, -3], np.int64)), init("w", f32(4, 3, 3, 3)),
             init("pads2", np.array([0, 0, 0, -1, 0, 0, -2, 0], np.int64))]
    x = f32(2, 3, 9, 8)
    ys = onnxruntime_shape(nodes, inits, x, 13)
    save("helper_pad_negative_op13", nodes, inits, x, ys, 13)
    # GRU linear_before_reset=0 (torch always exports 1), reverse, final state Y_h
    h, t, i = 6, 5, 3
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
        helper.make_node("GRU", ["xt", "W", "R", "B"], ["", "Yh"], hidden_size=h, direction="reverse",
                         linear_before_reset=0),
        helper.make_node("Squeeze", ["Yh", "zero"], ["s"]),
        helper.make_node("MatMul", ["s", "fc"], ["m"]),
        helper.make_node("Add", ["m", "fb"], ["y"]),
    ]
    inits = [init("W", f32(1, 3 * h, i) * 0.5), init("R", f32(1, 3 * h, h) * 0.5), init("B", f32(1, 6 * h) * 0.2),
             init("zero", np.array([0], np.int64)), init("fc", f32(h, 2)), init("fb", f32(2))]
    save("helper_gru_lbr0_reverse_op14", nodes, inits, f32(3, t, i), (2,), 14)
    # bidirectional GRU linear_before_reset=0 with Y (t, 2, n, h) flattened per sample,
    # and a bidirectional RNN (Tanh) with Y_h
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
        helper.make_node("GRU", ["xt", "W", "R", "B"], ["Y"], hidden_size=h, direction="bidirectional",
                         linear_before_reset=0),
        helper.make_node("Transpose", ["Y"], ["yt"], perm=[2, 0, 1, 3]),
        helper.make_node("Reshape", ["yt", "shape"], ["r"]),
        helper.make_node("MatMul", ["r", "fc"], ["m"]),
        helper.make_node("Add", ["m", "fb"], ["y"]),
    ]
    inits = [init("W", f32(2, 3 * h, i) * 0.5), init("R", f32(2, 3 * h, h) * 0.5), init("B", f32(2, 6 * h) * 0.2),
             init("shape", np.array([0, -1], np.int64)), init("fc", f32(t * 2 * h, 2)), init("fb", f32(2))]
    save("helper_bigru_lbr0_op14", nodes, inits, f32(3, t, i), (2,), 14)
    h = 4
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
        helper.make_node("RNN", ["xt", "W", "R", "B"], ["", "Yh"], hidden_size=h, direction="bidirectional"),
        helper.make_node("Transpose", ["Yh"], ["yt"], perm=[1, 0, 2]),
        helper.make_node("Reshape", ["yt", "shape"], ["r"]),
        helper.make_node("MatMul", ["r", "fc"], ["m"]),
        helper.make_node("Add", ["m", "fb"], ["y"]),
    ]
    inits = [init("W", f32(2, h, i) * 0.5), init("R", f32(2, h, h) * 0.5), init("B", f32(2, 2 * h) * 0.2),
             init("shape", np.array([0, -1], np.int64)), init("fc", f32(2 * h, 2)), init("fb", f32(2))]
    save("helper_birnn_hn_op14", nodes, inits, f32(3, t, i), (2,), 14)


def onnxruntime_shape(nodes, inits, x, opset, out="y"):
    import onnx
    from onnx import TensorProto, helper
    g = helper.make_graph(nodes, "probe", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    import onnxruntime as ort
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, {"x": x})[0].shape[1:]


def reference_outputs(out):
    import numpy as np
    import onnxruntime as ort
    for f in sorted(os.listdir(out)):
        if not f.endswith(".onnx"):
            continue
        base = f[:-5]
        if base.startswith(("tv_", "torch_two_io", "helper_dag")):
            continue  # made by gen_onnx_dag.py (several inputs/outputs)
        inp = os.path.join(out, base + ".inputs.npy")
        if not os.path.exists(inp):
            continue
        s = ort.InferenceSession(os.path.join(out, f), providers=["CPUExecutionProvider"])
        x = np.load(inp)
        (y,) = s.run(None, {s.get_inputs()[0].name: x})[:1]
        np.save(os.path.join(out, base + ".outputs.npy"), y.astype(np.float32))
        print(base, x.shape, "->", y.shape)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--torch":
        torch_models(sys.argv[2])
        torch_id_models(sys.argv[2])
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--torch-ids":
        torch_id_models(sys.argv[2])
        return
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(SEQ, exist_ok=True)
    which = sys.argv[1:] or ["torch", "keras", "helper"]
    if "torch-ids" in which:  # only the token-id models (gen_onnx.py torch-ids)
        subprocess.run(["/usr/bin/python3", os.path.abspath(__file__), "--torch-ids", OUT], check=True)
        dyn_reference_outputs()
    if "torch" in which:
        subprocess.run(["/usr/bin/python3", os.path.abspath(__file__), "--torch", OUT], check=True)
    if "keras" in which:
        keras_models(OUT)
    if "helper" in which:
        helper_models(OUT)
    reference_outputs(OUT)
    if "torch" in which:
        dyn_reference_outputs()


if __name__ == "__main__":
    main()
