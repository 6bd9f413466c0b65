package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kinfer/kinfer/serve"
)

const serveSynopsis = `serve [flags] MODEL... | serve --repo DIR [flags]

Serves models over the Open Inference Protocol (KServe v2): REST on --http, gRPC on
--grpc, Prometheus metrics at /metrics on the REST port. MODEL is PATH, NAME=PATH or
NAME:VERSION=PATH (default name: the file's base name; version: 1). --repo DIR serves
DIR/NAME/VERSION/model.{onnx,npz} and DIR/NAME.{onnx,npz}. SIGTERM or SIGINT stops
taking requests (after --drain-delay with readiness off) and exits once in-flight
ones are answered.`

func cmdServe(args []string, stdout io.Writer) error {
	fs := newFlags("serve", serveSynopsis, stdout)
	httpAddr := fs.String("http", ":8000", "REST listen address (empty: no REST)")
	grpcAddr := fs.String("grpc", ":8001", "gRPC listen address (empty: no gRPC)")
	repo := fs.String("repo", "", "model repository folder")
	maxBatch := fs.Int("max-batch", serve.DefaultMaxBatch, "most samples merged into one model run")
	delay := fs.Duration("max-queue-delay", 0, "how long a partial batch waits for more requests (0: merge only what is queued)")
	maxQueue := fs.Int("max-queue", serve.DefaultMaxQueue, "requests queued per model version before 429 / RESOURCE_EXHAUSTED")
	inflight := fs.Int("max-inflight", serve.DefaultMaxInflight, "inference requests handled at once, all models (past it: 429 / RESOURCE_EXHAUSTED)")
	workers := fs.Int("workers", 0, "concurrent model runs per model version (0: GOMAXPROCS)")
	threads := fs.Int("threads", 1, "goroutines one model run may use")
	reqBytes := new(byteSize)
	*reqBytes = serve.DefaultMaxRequestBytes
	fs.Var(reqBytes, "max-request", "largest request body or gRPC message, and the largest decoded request (e.g. 16MiB)")
	timeout := fs.Duration("timeout", serve.DefaultTimeout, "per-request timeout, queueing included")
	drainDelay := fs.Duration("drain-delay", 0, "after SIGTERM, how long readiness is off while requests are still served, before shutdown (e.g. 5s under Kubernetes)")
	grace := fs.Duration("shutdown-timeout", 30*time.Second, "how long shutdown waits for in-flight requests")
	logFormat := fs.String("log-format", "json", "log format: json or text")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	maxArena := arenaFlag(fs)
	fs.IntVar(&maxLen, "max-len", 0, "length of a model's None (dynamic) sequence axis")
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		if args = fs.Args(); len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("%w: --log-level %q", errUsage, *logLevel)
	}
	var h slog.Handler
	switch *logFormat {
	case "json":
		h = slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})
	case "text":
		h = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})
	default:
		return fmt.Errorf("%w: --log-format %q (want json or text)", errUsage, *logFormat)
	}
	log := slog.New(h)

	var specs []serve.ModelSpec
	var err error
	if *repo != "" {
		if specs, err = serve.ScanRepository(*repo); err != nil {
			return err
		}
	}
	for _, a := range pos {
		s, err := serve.ParseSpec(a)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		specs = append(specs, s)
	}
	if len(specs) == 0 {
		return fmt.Errorf("%w: no models: give MODEL arguments or --repo DIR", errUsage)
	}
	if *httpAddr == "" && *grpcAddr == "" {
		return fmt.Errorf("%w: --http and --grpc are both empty", errUsage)
	}
	cfg := serve.Config{Models: specs, MaxBatch: *maxBatch, MaxQueueDelay: *delay, MaxQueue: *maxQueue, MaxInflight: *inflight,
		Workers: *workers, MaxRequestBytes: int64(*reqBytes), Timeout: *timeout, Logger: log}
	cfg.Load.Threads = *threads
	cfg.Load.MaxArenaBytes = int64(*maxArena)
	cfg.Load.SeqLen = maxLen
	srv, err := serve.New(cfg)
	if err != nil {
		return err
	}
	var hl, gl net.Listener
	if *httpAddr != "" {
		if hl, err = net.Listen("tcp", *httpAddr); err != nil {
			return err
		}
	}
	if *grpcAddr != "" {
		if gl, err = net.Listen("tcp", *grpcAddr); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(hl, gl) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("signal received", "drain_delay", *drainDelay, "grace", *grace)
	if *drainDelay > 0 {
		srv.Unready()
		time.Sleep(*drainDelay)
	}
	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, context.Canceled) {
		err = errors.Join(err, serr)
	}
	return err
}
