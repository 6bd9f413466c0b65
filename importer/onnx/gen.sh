#!/bin/sh
# Regenerates onnxpb/onnx.proto3.pb.go from onnxpb/onnx.proto3 with pinned tools:
#   protoc (Debian protobuf-compiler 3.21.12) and
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
# onnxpb/onnx.proto3 was produced from the onnx==1.23.2 pip package by
#   python site-packages/onnx/gen_proto.py -o /tmp/onnxproto onnx
# (the wheel ships onnx.in.proto and the proto2 onnx.proto; gen_proto.py writes the
# proto3 variant the ONNX project publishes as onnx.proto3).
#
# The checked-in proto stays byte-for-byte upstream. Generation renames its protobuf
# package to kinfer.onnxpb and places it at kinfer/onnxpb/onnx.proto3, so the Go types
# register "kinfer/onnxpb/onnx.proto3" and "kinfer.onnxpb.ModelProto" in protobuf's
# global registry instead of "onnx.proto3" and "onnx.ModelProto": other Go ONNX
# libraries (gonnx, onnx-go) register those, and linking two registrants of one name
# panics at start-up. Field numbers and types are unchanged, so the wire format, which
# carries neither name, is standard ONNX.
set -eu
cd "$(dirname "$0")/onnxpb"
PATH="$(go env GOPATH)/bin:$PATH"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/kinfer/onnxpb"
grep -q '^package onnx;$' onnx.proto3 || { echo "gen.sh: onnx.proto3 has no 'package onnx;' line" >&2; exit 1; }
sed 's/^package onnx;$/package kinfer.onnxpb;/' onnx.proto3 >"$tmp/kinfer/onnxpb/onnx.proto3"
protoc --proto_path="$tmp" \
	--go_out="$tmp" --go_opt=paths=source_relative \
	--go_opt=Mkinfer/onnxpb/onnx.proto3=github.com/kinfer/kinfer/importer/onnx/onnxpb \
	kinfer/onnxpb/onnx.proto3
cp "$tmp/kinfer/onnxpb/onnx.proto3.pb.go" onnx.proto3.pb.go
