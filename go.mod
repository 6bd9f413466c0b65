module github.com/kinfer/kinfer

go 1.26.8

require (
	github.com/klauspost/cpuid/v2 v2.4.2
	github.com/minio/highwayhash v1.0.4
	google.golang.org/protobuf v1.36.12
)

require golang.org/x/sys v0.41.0 // indirect
