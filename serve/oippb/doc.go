// Package oippb holds the Go types and gRPC service of the Open Inference Protocol
// (KServe v2), generated from grpc_predict_v2.proto by ../gen.sh.
package oippb

//go:generate ../gen.sh
