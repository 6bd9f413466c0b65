"""keras2npz --samples: the only part of the exporter that imports Keras.

It runs after keras2npz_guard has checked the file, on the exporter's private copy of
it, and loads that copy in the framework's safe mode (docs/exporter-safety.md).
"""

import os

import numpy as np

from keras2npz_guard import BadInput, ToolError, one_line

INPUT_CLASSES = ("InputLayer",)
NESTED_CLASSES = ("Sequential", "Functional", "Model")


def _load_framework(keras_version):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if keras_version.startswith("2.") or keras_version.startswith("1."):
        try:
            import tf_keras as fw
        except ImportError:
            try:
                import tensorflow as tf

                fw = tf.keras
                if not tf.keras.__version__.startswith("2."):
                    raise ImportError("tf.keras is Keras 3")
            except ImportError as e:
                raise ToolError(
                    f"--samples: the model was saved by Keras {keras_version}; install "
                    f"tf_keras to run it ({e})"
                )
        return fw
    try:
        import keras as fw
    except ImportError as e:
        raise ToolError(f"--samples needs keras {keras_version} installed ({e})")
    return fw


def _walk_layers(model, prefix=""):
    for layer in model.layers:
        if type(layer).__name__ in INPUT_CLASSES:
            continue
        if type(layer).__name__ in NESTED_CLASSES and hasattr(layer, "layers"):
            yield from _walk_layers(layer, prefix + layer.name + "/")
        else:
            yield prefix + layer.name, layer


def _load_safely(fw, path):
    """Load with the framework's safe mode on (no Python lambdas deserialised).

    Keras 3 honours safe_mode for .keras and .h5. tf_keras honours it only for .keras:
    its .h5 loader deserialises Lambda bytecode unless a SafeModeScope is active, so
    the load runs inside one. (The exporter has already rejected every such config;
    this is the second lock.)
    """
    if getattr(fw, "__version__", "").startswith("3."):
        return fw.saving.load_model(path, compile=False, safe_mode=True)
    try:
        from tf_keras.src.saving import serialization_lib as sl
    except ImportError:
        from tensorflow.python.keras.saving import serialization_lib as sl  # pragma: no cover
    with sl.SafeModeScope(True):
        return fw.models.load_model(path, compile=False, safe_mode=True)


def make_samples(path, keras_version, weights, n, seed, display=None):
    """path is the exporter's private copy of the checked file (never the user's path)."""
    display = path if display is None else display
    fw = _load_framework(keras_version)
    try:
        model = _load_safely(fw, path)
    except Exception as e:  # noqa: BLE001 - whatever Keras raises, it is the file's fault
        raise BadInput(f"{display}: Keras could not load the model: "
                       f"{type(e).__name__}: {one_line(e, 300)}")
    # Cross-check the weight mapping against what Keras itself loaded.
    seen = set()
    for lpath, layer in _walk_layers(model):
        want = [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]
        got = weights.get(lpath, [])
        if getattr(layer, "quantization_mode", None) and len(want) == len(got):
            # a quantized layer lists its weights (bias, kernel, kernel_scale) in another
            # order than it saves them (kernel, bias, kernel_scale): match as a set
            rest = list(want)
            for g in got:
                k = next((i for i, w in enumerate(rest) if w.shape == g.shape and np.array_equal(w, g)), None)
                if k is not None:
                    rest.pop(k)
            want = got if not rest else want
        if len(want) != len(got) or any(
            a.shape != b.shape or not np.array_equal(a, b) for a, b in zip(want, got)
        ):
            raise ToolError(
                f"weight mapping check failed for layer {lpath!r}: exported "
                f"{[a.shape for a in got]}, Keras has {[a.shape for a in want]}"
            )
        seen.add(lpath)
    extra = set(weights) - seen
    if extra:
        raise ToolError(f"weight mapping check failed: exported unknown layers {sorted(extra)}")
    return predict_samples(model, display, n, seed)


def predict_samples(model, display, n, seed):
    """Draw n inputs per model input (in order) and return (xs, ys) lists of arrays."""
    shapes = model.input_shape
    if not isinstance(shapes, list):
        shapes = [shapes]
    rng = np.random.default_rng(seed)
    xs = []
    for shape in shapes:
        if not isinstance(shape, tuple) or any(d is None for d in shape[1:]):
            raise BadInput(f"{display}: input shape {shape} has unknown dimensions; cannot draw samples")
        xs.append(rng.standard_normal((n,) + tuple(shape[1:])).astype(np.float32))
    y = model.predict(xs[0] if len(xs) == 1 else xs, verbose=0)
    if isinstance(y, dict):
        raise BadInput(f"{display}: model outputs are a dict; only a list of outputs is supported")
    ys = list(y) if isinstance(y, (list, tuple)) else [y]
    return xs, [np.asarray(a, dtype=np.float32) for a in ys]
