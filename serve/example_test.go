package serve_test

import (
	"context"
	"net"
	"os/signal"
	"syscall"
	"time"

	"github.com/kinfer/kinfer/serve"
)

// Serve two model versions over REST and gRPC until SIGTERM, then drain.
func ExampleNew() {
	srv, err := serve.New(serve.Config{
		Models: []serve.ModelSpec{
			{Name: "mlp", Version: "1", Path: "../testdata/onnx/keras_mlp_op13.onnx"},
			{Name: "mlp", Version: "2", Path: "../testdata/onnx/keras_mlp_op17.onnx"},
		},
		MaxBatch:      32,
		MaxQueueDelay: time.Millisecond,
	})
	if err != nil {
		panic(err)
	}
	hl, err := net.Listen("tcp", ":8000")
	if err != nil {
		panic(err)
	}
	gl, err := net.Listen("tcp", ":8001")
	if err != nil {
		panic(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		srv.Shutdown(shutdown) //nolint:errcheck // Serve returns once it is done
	}()
	if err := srv.Serve(hl, gl); err != nil {
		panic(err)
	}
}
