// Package onnx imports ONNX models (tf2onnx, Keras 3 model.export(format="onnx"),
// torch.onnx.export) into kinfer's frozen Sequential graph form (package layers).
//
// The importer folds constant and shape subgraphs, maps op patterns onto layers and
// converts NCHW tensors to the NHWC layout the layers use once, at import time. The
// imported graph keeps the model's own input and output layout, so callers feed
// exactly the arrays they would feed ONNX Runtime.
package onnx
