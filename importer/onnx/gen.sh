#!/bin/sh
# Regenerates onnxpb/onnx.pb.go from onnxpb/onnx.proto3 with pinned tools:
#   protoc (Debian protobuf-compiler 3.21.12) and
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
# onnxpb/onnx.proto3 was produced from the onnx==1.23.2 pip package by
#   python site-packages/onnx/gen_proto.py -o /tmp/onnxproto onnx
# (the wheel ships onnx.in.proto and the proto2 onnx.proto; gen_proto.py writes the
# proto3 variant the ONNX project publishes as onnx.proto3).
set -eu
cd "$(dirname "$0")/onnxpb"
PATH="$(go env GOPATH)/bin:$PATH"
protoc --proto_path=. \
	--go_out=. --go_opt=paths=source_relative \
	--go_opt=Monnx.proto3=github.com/kinfer/kinfer/importer/onnx/onnxpb \
	onnx.proto3
