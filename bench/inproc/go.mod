module github.com/kinfer/kinfer/bench/inproc

go 1.26.8

require (
	github.com/kinfer/kinfer v0.0.0
	github.com/yalue/onnxruntime_go v1.26.0
)

require (
	github.com/klauspost/cpuid/v2 v2.4.2 // indirect
	github.com/minio/highwayhash v1.0.4 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

replace github.com/kinfer/kinfer => ../..
