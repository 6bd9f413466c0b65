#!/usr/bin/env python3
"""Export the torch attention fixtures of testdata/attention/ (torch 1.13, Debian's
python3-torch: run with /usr/bin/python3). Writes <name>.onnx and its inputs
<name>.x_<i>.npy; testdata/gen_attention.py --ort (the pinned venv) adds ONNX
Runtime's outputs <name>.y.npy. Masks are stored as float32 0/1 (kinfer's input type);
the ONNX model takes them as bool.

  torch_enc_post_op13 / _op17  nn.TransformerEncoder, 2 layers, batch_first,
                               norm_first=False (d_model 32, 4 heads, FFN 64, relu)
  torch_enc_pre_op13 / _op17   the same with norm_first=True, gelu FFN and a final
                               LayerNorm
  torch_mha_kpm                nn.MultiheadAttention (16, 4 heads) self-attention with
                               a key_padding_mask input
  torch_mha_cross              cross attention, kdim 5 and vdim 7 (separate projections)
  torch_enc_layer_h8_op14      one TransformerEncoderLayer, 8 heads of 6, gelu, pre-norm
  torch_manual_attn_op17       attention written by hand with (B, H, T, dh) heads and
                               q, k scaled by dh**-0.25; softmax over axis 1 of a
                               product of computed tensors, times the input
  torch_mha_cross_packed       cross attention with the packed in-projection, need_weights
                               at its default
  torch_decoder_op17           nn.TransformerDecoder, 2 layers, causal tgt_mask, cross
                               attention on a memory both layers read
  torch_causal_ts_op17         Linear, a 2-layer TransformerEncoder with a causal mask
                               (a constant of 0 and -inf in the export), mean, Linear

    /usr/bin/python3 testdata/gen_attention_torch.py
"""

import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "attention")
assert torch.__version__.startswith("1.13"), torch.__version__


def encoder(norm_first, act):
    layer = torch.nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, dropout=0.0,
                                             activation=act, batch_first=True, norm_first=norm_first)
    norm = torch.nn.LayerNorm(32) if norm_first else None
    return torch.nn.TransformerEncoder(layer, num_layers=2, norm=norm)


class MHA(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.MultiheadAttention(16, 4, batch_first=True)

    def forward(self, x, kpm):
        return self.a(x, x, x, key_padding_mask=kpm, need_weights=False)[0]


class Cross(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.MultiheadAttention(12, 3, kdim=5, vdim=7, batch_first=True)

    def forward(self, q, k, v):
        return self.a(q, k, v, need_weights=False)[0]


class Causal(torch.nn.Module):
    """A time-series encoder: Linear 3 -> 24, a causal TransformerEncoder (2 layers),
    the mean over steps read out."""

    def __init__(self):
        super().__init__()
        self.inp = torch.nn.Linear(3, 24)
        layer = torch.nn.TransformerEncoderLayer(d_model=24, nhead=3, dim_feedforward=48, dropout=0.0,
                                                 batch_first=True)
        self.enc = torch.nn.TransformerEncoder(layer, num_layers=2)
        self.out = torch.nn.Linear(24, 2)
        self.register_buffer("mask", torch.nn.Transformer.generate_square_subsequent_mask(9))

    def forward(self, x):
        return self.out(self.enc(self.inp(x), mask=self.mask).mean(dim=1))


class CrossPacked(torch.nn.Module):
    """Cross attention with the packed in-projection (key is value, query differs:
    torch slices the packed weight by the data's feature count, a shape computation)
    and need_weights left at its default."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.MultiheadAttention(16, 2, batch_first=True)

    def forward(self, x, y):
        return self.a(x, y, y)[0]


class Decoder(torch.nn.Module):
    """nn.TransformerDecoder, 2 layers: causal self-attention (a constant mask) and
    cross attention on a memory input both layers read."""

    def __init__(self):
        super().__init__()
        layer = torch.nn.TransformerDecoderLayer(24, 4, 40, dropout=0.0, batch_first=True)
        self.d = torch.nn.TransformerDecoder(layer, 2)
        self.register_buffer("mask", torch.nn.Transformer.generate_square_subsequent_mask(5))

    def forward(self, tgt, mem):
        return self.d(tgt, mem, tgt_mask=self.mask)


class Manual(torch.nn.Module):
    """Attention written out as torch 2.x's scaled_dot_product_attention decomposes:
    heads split as (B, H, T, dh) (the batch kept apart), q and k each scaled by
    dh**-0.25, an output projection; plus a head-free q @ k^T @ v product whose result
    is added (MatMul of computed tensors without a projection after it)."""

    def __init__(self):
        super().__init__()
        self.q, self.k, self.v = torch.nn.Linear(12, 12), torch.nn.Linear(12, 12), torch.nn.Linear(12, 12)
        self.o = torch.nn.Linear(12, 12)
        self.a, self.b = torch.nn.Linear(12, 5), torch.nn.Linear(12, 5)

    def forward(self, x):
        bsz, t, _ = x.shape
        def heads(z):
            return z.view(bsz, t, 3, 4).transpose(1, 2)
        s = 4 ** -0.25
        q, k, v = heads(self.q(x)) * s, heads(self.k(x)) * s, heads(self.v(x))
        p = torch.softmax(q @ k.transpose(-2, -1), dim=-1)
        y = self.o((p @ v).transpose(1, 2).reshape(bsz, t, 12))
        a, b = self.a(x), self.b(x)
        w = torch.softmax(a @ b.transpose(1, 2), dim=1)  # softmax over the queries
        return y + w @ x


def randomize(m, g):
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() >= 2:
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * (3.0 / p.shape[-1]) ** 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(97531)
    for nf, act in ((False, "relu"), (True, "gelu")):
        m = encoder(nf, act).eval()
        randomize(m, g)
        x = torch.randn(3, 10, 32, generator=g)
        for op in (13, 17):
            name = f"torch_enc_{'pre' if nf else 'post'}_op{op}"
            torch.onnx.export(m, (x,), os.path.join(OUT, name + ".onnx"), opset_version=op,
                              input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
            np.save(os.path.join(OUT, name + ".x_0.npy"), x.numpy())
            print(name)
    m = MHA().eval()
    randomize(m, g)
    x = torch.randn(3, 7, 16, generator=g)
    kpm = torch.zeros(3, 7, dtype=torch.bool)
    kpm[1, 4:] = True
    kpm[2, [0, 3]] = True
    name = "torch_mha_kpm"
    torch.onnx.export(m, (x, kpm), os.path.join(OUT, name + ".onnx"), opset_version=13,
                      input_names=["x", "key_padding_mask"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "key_padding_mask": {0: "batch"}, "y": {0: "batch"}})
    np.save(os.path.join(OUT, name + ".x_0.npy"), x.numpy())
    np.save(os.path.join(OUT, name + ".x_1.npy"), kpm.numpy().astype(np.float32))
    print(name)
    # cross attention with separate projections (kdim, vdim != embed_dim)
    m = Cross().eval()
    randomize(m, g)
    xs = [torch.randn(3, 4, 12, generator=g), torch.randn(3, 6, 5, generator=g), torch.randn(3, 6, 7, generator=g)]
    name = "torch_mha_cross"
    torch.onnx.export(m, tuple(xs), os.path.join(OUT, name + ".onnx"), opset_version=14,
                      input_names=["q", "k", "v"], output_names=["y"],
                      dynamic_axes={n: {0: "batch"} for n in ("q", "k", "v", "y")})
    for i, x in enumerate(xs):
        np.save(os.path.join(OUT, f"{name}.x_{i}.npy"), x.numpy())
    print(name)
    # an encoder layer of another shape: 8 heads of 6, sequence 5, opset 14, no final norm
    layer = torch.nn.TransformerEncoderLayer(d_model=48, nhead=8, dim_feedforward=40, dropout=0.0,
                                             activation="gelu", batch_first=True, norm_first=True).eval()
    randomize(layer, g)
    x = torch.randn(2, 5, 48, generator=g)
    name = "torch_enc_layer_h8_op14"
    torch.onnx.export(layer, (x,), os.path.join(OUT, name + ".onnx"), opset_version=14,
                      input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    np.save(os.path.join(OUT, name + ".x_0.npy"), x.numpy())
    print(name)
    # causal time-series encoder: the mask is a constant of 0 and -inf
    m = Causal().eval()
    randomize(m, g)
    x = torch.randn(3, 9, 3, generator=g)
    name = "torch_causal_ts_op17"
    torch.onnx.export(m, (x,), os.path.join(OUT, name + ".onnx"), opset_version=17,
                      input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    np.save(os.path.join(OUT, name + ".x_0.npy"), x.numpy())
    print(name)

    # attention written by hand, torch 2.x layout, and plain products of computed tensors
    m = Manual().eval()
    randomize(m, g)
    x = torch.randn(3, 6, 12, generator=g)
    name = "torch_manual_attn_op17"
    torch.onnx.export(m, (x,), os.path.join(OUT, name + ".onnx"), opset_version=17,
                      input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    np.save(os.path.join(OUT, name + ".x_0.npy"), x.numpy())
    print(name)
    m = CrossPacked().eval()
    randomize(m, g)
    xs = [torch.randn(3, 5, 16, generator=g), torch.randn(3, 7, 16, generator=g)]
    name = "torch_mha_cross_packed"
    torch.onnx.export(m, tuple(xs), os.path.join(OUT, name + ".onnx"), opset_version=13,
                      input_names=["x", "y"], output_names=["o"],
                      dynamic_axes={n: {0: "batch"} for n in ("x", "y", "o")})
    for i, x in enumerate(xs):
        np.save(os.path.join(OUT, f"{name}.x_{i}.npy"), x.numpy())
    print(name)
    m = Decoder().eval()
    randomize(m, g)
    xs = [torch.randn(2, 5, 24, generator=g), torch.randn(2, 8, 24, generator=g)]
    name = "torch_decoder_op17"
    torch.onnx.export(m, tuple(xs), os.path.join(OUT, name + ".onnx"), opset_version=17,
                      input_names=["tgt", "memory"], output_names=["y"],
                      dynamic_axes={n: {0: "batch"} for n in ("tgt", "memory", "y")})
    for i, x in enumerate(xs):
        np.save(os.path.join(OUT, f"{name}.x_{i}.npy"), x.numpy())
    print(name)


if __name__ == "__main__":
    main()
