module github.com/kinfer/kinfer/bench/inproc

go 1.26.8

require (
	github.com/kinfer/kinfer v0.0.0
	github.com/yalue/onnxruntime_go v1.26.0
)

require (
	codeberg.org/sbinet/npyio v0.14.0 // indirect
	github.com/klauspost/cpuid/v2 v2.4.2 // indirect
	github.com/minio/highwayhash v1.0.4 // indirect
	github.com/nlpodyssey/gopickle v0.3.0 // indirect
	golang.org/x/sys v0.41.0 // indirect
	golang.org/x/text v0.34.0 // indirect
	gonum.org/v1/gonum v0.17.0 // indirect
)

replace github.com/kinfer/kinfer => ../..
