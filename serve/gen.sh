#!/bin/sh
# Regenerates oippb/*.pb.go from oippb/grpc_predict_v2.proto with pinned tools:
#   protoc (Debian protobuf-compiler 3.21.12),
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
# The proto sits at kinfer/oippb/ when generated so the file registers in protobuf's
# global registry as "kinfer/oippb/grpc_predict_v2.proto", not under the bare name
# other OIP client or server packages use. Its protobuf package stays "inference":
# gRPC method paths (/inference.GRPCInferenceService/ModelInfer) are derived from it.
set -eu
cd "$(dirname "$0")/oippb"
PATH="$(go env GOPATH)/bin:$PATH"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/kinfer/oippb"
cp grpc_predict_v2.proto "$tmp/kinfer/oippb/"
m=Mkinfer/oippb/grpc_predict_v2.proto=github.com/kinfer/kinfer/serve/oippb
protoc --proto_path="$tmp" \
	--go_out="$tmp" --go_opt=paths=source_relative --go_opt=$m \
	--go-grpc_out="$tmp" --go-grpc_opt=paths=source_relative --go-grpc_opt=$m \
	kinfer/oippb/grpc_predict_v2.proto
cp "$tmp"/kinfer/oippb/*.go .
