#!/usr/bin/env python3
"""Copies ONNX's own backend conformance cases into testdata/onnx_backend/.

The onnx wheel ships, under onnx/backend/test/data/{pytorch-converted,
pytorch-operator,simple}, one directory per case: model.onnx plus
test_data_set_0/input_0.pb and output_0.pb (TensorProto). This script copies, byte for
byte, every case with exactly one graph input (initializers aside) and one output, both
float32 or float64, whose three files total at most MAX_CASE_BYTES, to

  testdata/onnx_backend/<suite>/<case>/{model.onnx,input_0.pb,output_0.pb}

and writes testdata/onnx_backend/SKIPPED.txt naming every other case and why it is
not copied. importer/onnx/backend_test.go runs the copies (no Python needed).

  /opt/kvenv/bin/python testdata/gen_onnx_backend.py   # onnx==1.23.2 (requirements.txt)
"""
import os
import shutil
import sys

import onnx

ONNX_VERSION = "1.23.2"
SUITES = ["pytorch-converted", "pytorch-operator", "simple"]
MAX_CASE_BYTES = 200_000  # three cases hold 1-4.5 MB inputs; everything else is < 170 kB
FLOATS = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE}

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "onnx_backend")


def main():
    if onnx.__version__ != ONNX_VERSION:
        sys.exit(f"onnx {onnx.__version__}: this script is pinned to onnx=={ONNX_VERSION}")
    root = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
    for s in SUITES:
        shutil.rmtree(os.path.join(OUT, s), ignore_errors=True)
    skipped, copied, total = [], 0, 0
    for s in SUITES:
        for case in sorted(os.listdir(os.path.join(root, s))):
            src = os.path.join(root, s, case)
            files = [os.path.join(src, "model.onnx"),
                     os.path.join(src, "test_data_set_0", "input_0.pb"),
                     os.path.join(src, "test_data_set_0", "output_0.pb")]
            m = onnx.load(files[0])
            inits = {t.name for t in m.graph.initializer}
            ins = [i for i in m.graph.input if i.name not in inits]
            outs = list(m.graph.output)
            why = None
            if len(ins) != 1 or len(outs) != 1:
                why = f"{len(ins)} inputs, {len(outs)} outputs"
            else:
                types = [ins[0].type.tensor_type.elem_type, outs[0].type.tensor_type.elem_type]
                if any(t not in FLOATS for t in types):
                    why = "element types " + "/".join(onnx.TensorProto.DataType.Name(t) for t in types)
            if why is None:
                size = sum(os.path.getsize(f) for f in files)
                if size > MAX_CASE_BYTES:
                    why = f"{size} bytes (over {MAX_CASE_BYTES})"
            if why is not None:
                skipped.append(f"{s}/{case}: {why}")
                continue
            dst = os.path.join(OUT, s, case)
            os.makedirs(dst)
            for f in files:
                shutil.copyfile(f, os.path.join(dst, os.path.basename(f)))
                total += os.path.getsize(f)
            copied += 1
    with open(os.path.join(OUT, "SKIPPED.txt"), "w") as f:
        f.write(f"# onnx=={ONNX_VERSION} backend cases not copied by testdata/gen_onnx_backend.py\n"
                "# (TestONNXBackend runs the three over the size limit from the wheel's own copy\n"
                "# with KINFER_ONNX_BACKEND_DATA=.../site-packages/onnx/backend/test/data)\n")
        f.write("\n".join(skipped) + "\n")
    print(f"copied {copied} cases ({total} bytes), skipped {len(skipped)}")


if __name__ == "__main__":
    main()
