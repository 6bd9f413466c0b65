package onnx

//go:generate ./gen.sh
