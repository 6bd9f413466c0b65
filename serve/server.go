// Package serve is kinfer's model server: the Open Inference Protocol (KServe v2) over
// REST and gRPC, with dynamic batching, bounded queues, request limits, Prometheus
// metrics and graceful shutdown. `kinfer serve` runs it; a Go program can embed it.
package serve

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/kinfer/kinfer"
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/serve/oippb"
)

// Defaults of Config's zero fields.
const (
	DefaultMaxBatch        = 32
	DefaultMaxQueue        = 256
	DefaultMaxRequestBytes = 64 << 20
	DefaultTimeout         = 30 * time.Second
	DefaultMaxInflight     = 1024
)

// Config configures a Server. Zero fields take the defaults.
type Config struct {
	// Models are the model versions served.
	Models []ModelSpec
	// MaxBatch is the most samples merged into one model run (DefaultMaxBatch). A
	// request with more samples runs alone.
	MaxBatch int
	// MaxQueueDelay is how long a worker holding a partial batch waits for more
	// requests; 0 merges only what is already queued (no added latency).
	MaxQueueDelay time.Duration
	// MaxQueue bounds the requests queued per model version (DefaultMaxQueue); past
	// it a request is refused with 429 / RESOURCE_EXHAUSTED.
	MaxQueue int
	// Workers is the number of concurrent model runs per model version
	// (GOMAXPROCS when 0).
	Workers int
	// MaxRequestBytes bounds a request's body (HTTP) or message (gRPC) and also the
	// decoded input tensors and the outputs of one request (DefaultMaxRequestBytes).
	MaxRequestBytes int64
	// MaxInflight bounds the inference requests being handled at once, across models
	// and protocols (DefaultMaxInflight); past it a request is refused with 429 /
	// RESOURCE_EXHAUSTED before its body is read. With MaxRequestBytes it bounds the
	// memory requests hold.
	MaxInflight int
	// Timeout bounds each inference request, queueing included (DefaultTimeout); a
	// gRPC client's shorter deadline wins.
	Timeout time.Duration
	// Load is passed to kinfer.Load for every model; its MaxBatch is set to MaxBatch
	// when 0.
	Load kinfer.Options
	// Logger receives structured logs (slog.Default() when nil).
	Logger *slog.Logger
}

func (c *Config) defaults() {
	c.MaxBatch = cmp.Or(c.MaxBatch, DefaultMaxBatch)
	c.MaxQueue = cmp.Or(c.MaxQueue, DefaultMaxQueue)
	c.Workers = cmp.Or(c.Workers, runtime.GOMAXPROCS(0))
	c.MaxRequestBytes = cmp.Or(c.MaxRequestBytes, DefaultMaxRequestBytes)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.MaxInflight = cmp.Or(c.MaxInflight, DefaultMaxInflight)
	c.Load.MaxBatch = cmp.Or(c.Load.MaxBatch, c.MaxBatch)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// entry is one loaded model version.
type entry struct {
	name, version, platform string
	m                       *kinfer.Model
	ins, outs               []layers.Tensor
	inPer, outPer           []int
	vocab                   []int // per input: the vocabulary of an id input, else 0
	b                       *batcher
}

// family is a model's versions.
type family struct {
	versions map[string]*entry
	order    []string // ascending; the last is the default
}

// Server serves models over OIP REST and gRPC. Create it with New.
type Server struct {
	cfg      Config
	log      *slog.Logger
	models   map[string]*family
	met      *metrics
	draining atomic.Bool   // refusing new inference requests
	unready  atomic.Bool   // readiness off (set before draining on shutdown)
	slots    chan struct{} // MaxInflight tokens
	httpSrv  *http.Server
	grpcSrv  *grpc.Server
	stopOnce sync.Once
}

// New loads and compiles every model in cfg.Models.
func New(cfg Config) (*Server, error) {
	cfg.defaults()
	switch {
	case len(cfg.Models) == 0:
		return nil, errors.New("serve: no models")
	case cfg.MaxBatch < 1 || cfg.MaxQueue < 1 || cfg.MaxInflight < 1 || cfg.Workers < 1 || cfg.MaxRequestBytes < 1 || cfg.Timeout < 0 || cfg.MaxQueueDelay < 0:
		return nil, fmt.Errorf("serve: invalid limits (max batch %d, max queue %d, workers %d, max request bytes %d, timeout %v, max queue delay %v)",
			cfg.MaxBatch, cfg.MaxQueue, cfg.Workers, cfg.MaxRequestBytes, cfg.Timeout, cfg.MaxQueueDelay)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, models: map[string]*family{}, met: newMetrics(),
		slots: make(chan struct{}, cfg.MaxInflight)}
	for _, spec := range cfg.Models {
		f := s.models[spec.Name]
		if f == nil {
			f = &family{versions: map[string]*entry{}}
			s.models[spec.Name] = f
		}
		if f.versions[spec.Version] != nil {
			s.close()
			return nil, fmt.Errorf("serve: model %s version %s given twice", spec.Name, spec.Version)
		}
		t0 := time.Now()
		m, platform, err := loadSpec(spec, cfg.Load)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("serve: model %s version %s: %w", spec.Name, spec.Version, err)
		}
		e := &entry{name: spec.Name, version: spec.Version, platform: platform, m: m, ins: m.Inputs(), outs: m.Outputs()}
		for k, t := range e.ins {
			e.inPer = append(e.inPer, t.Shape.Size())
			e.vocab = append(e.vocab, m.Graph().Vocabulary(k))
		}
		for _, t := range e.outs {
			e.outPer = append(e.outPer, t.Shape.Size())
		}
		e.b = newBatcher(m, &s.cfg, s.met.forModel(spec.Name, spec.Version))
		f.versions[spec.Version] = e
		f.order = append(f.order, spec.Version)
		slices.SortFunc(f.order, compareVersions)
		s.log.Info("model loaded", "model", spec.Name, "version", spec.Version, "path", spec.Path, "platform", platform,
			"inputs", len(e.ins), "outputs", len(e.outs), "arena_bytes", m.ArenaBytes(), "isa", m.ISA(), "load_time", time.Since(t0))
	}
	s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		// A body sent slowly must not hold an in-flight slot past the request timeout;
		// the write deadline leaves the handler its full timeout.
		ReadTimeout: cfg.Timeout, WriteTimeout: cfg.Timeout + 10*time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	s.grpcSrv = grpc.NewServer(grpc.MaxRecvMsgSize(int(min(cfg.MaxRequestBytes, 1<<31-1))), grpc.MaxSendMsgSize(int(min(2*cfg.MaxRequestBytes, 1<<31-1))),
		grpc.MaxConcurrentStreams(uint32(min(cfg.MaxInflight, 1<<31-1))))
	oippb.RegisterGRPCInferenceServiceServer(s.grpcSrv, &grpcService{s: s})
	return s, nil
}

// lookup finds a model version ("" is the default: the greatest).
func (s *Server) lookup(name, version string) (*entry, error) {
	f := s.models[name]
	if f == nil {
		return nil, errorf(kindNotFound, "unknown model %q", name)
	}
	if version == "" {
		version = f.order[len(f.order)-1]
	}
	e := f.versions[version]
	if e == nil {
		return nil, errorf(kindNotFound, "unknown version %q of model %q", version, name)
	}
	return e, nil
}

// Ready reports what the readiness endpoints answer: false after Unready or Shutdown.
func (s *Server) Ready() bool { return !s.unready.Load() }

// Unready turns readiness off while requests are still served: on SIGTERM, a load
// balancer (a Kubernetes Service) stops sending traffic once its readiness probe
// sees it, and requests routed before then are still answered. Shutdown follows.
func (s *Server) Unready() {
	if !s.unready.Swap(true) {
		s.log.Info("readiness off")
	}
}

// admit takes an in-flight slot, or refuses the request; release returns it.
func (s *Server) admit() error {
	select {
	case s.slots <- struct{}{}:
		s.met.inflight.Inc()
		return nil
	default:
		return errorf(kindOverloaded, "server is at its limit of %d requests in flight; retry later", cap(s.slots))
	}
}

func (s *Server) release() {
	s.met.inflight.Dec()
	<-s.slots
}

// infer runs n samples through e's batcher. ins are in the model's input order.
func (s *Server) infer(ctx context.Context, e *entry, n int, ins [][]float32) ([][]float32, error) {
	if s.draining.Load() {
		return nil, errorf(kindUnavailable, "server is shutting down")
	}
	outs := make([][]float32, len(e.outPer))
	for k, p := range e.outPer {
		outs[k] = make([]float32, n*p)
	}
	j := &job{ctx: ctx, n: n, ins: ins, outs: outs, done: make(chan error, 1)}
	if err := e.b.submit(j); err != nil {
		return nil, err
	}
	select {
	case err := <-j.done:
		if err != nil {
			if kindOf(err) == kindInternal {
				err = errorf(kindInternal, "model %s version %s: %v", e.name, e.version, err)
			}
			return nil, err
		}
		return outs, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// observe records a finished request's metrics and logs a failure. Requests for a
// model that is not served are labelled model="": a label per name a client makes
// up would grow the registry without bound. The log keeps the requested name.
func (s *Server) observe(protocol string, e *entry, name, version string, t0 time.Time, err error) {
	lm, lv := "", ""
	if e != nil {
		lm, lv = e.name, e.version
	}
	s.met.requests.WithLabelValues(protocol, lm, lv).Inc()
	s.met.latency.WithLabelValues(protocol, lm, lv).Observe(time.Since(t0).Seconds())
	if err == nil {
		if s.log.Enabled(context.Background(), slog.LevelDebug) {
			s.log.Debug("request", "protocol", protocol, "model", lm, "version", lv, "duration", time.Since(t0))
		}
		return
	}
	k := kindOf(err)
	s.met.errors.WithLabelValues(protocol, lm, lv, k.String()).Inc()
	lvl := slog.LevelDebug // a client's mistake or load shedding: the metrics count it
	if k == kindInternal {
		lvl = slog.LevelError
	}
	s.log.Log(context.Background(), lvl, "request failed", "protocol", protocol, "model", name, "version", version,
		"kind", k.String(), "error", err.Error())
}

// Serve serves REST on httpLn and gRPC on grpcLn (either may be nil) until
// Shutdown; it returns the first listener error other than the server's closing.
func (s *Server) Serve(httpLn, grpcLn net.Listener) error {
	errc := make(chan error, 2)
	n := 0
	if httpLn != nil {
		n++
		s.log.Info("serving REST", "addr", httpLn.Addr().String())
		go func() {
			if err := s.httpSrv.Serve(httpLn); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve: REST: %w", err)
				return
			}
			errc <- nil
		}()
	}
	if grpcLn != nil {
		n++
		s.log.Info("serving gRPC", "addr", grpcLn.Addr().String())
		go func() {
			if err := s.grpcSrv.Serve(grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				errc <- fmt.Errorf("serve: gRPC: %w", err)
				return
			}
			errc <- nil
		}()
	}
	var first error
	for range n {
		if err := <-errc; err != nil && first == nil {
			first = err
			go s.Shutdown(context.Background()) //nolint:errcheck // the listener error is what is returned
		}
	}
	return first
}

// Shutdown stops taking requests (readiness turns false, new inference requests get
// 503 / UNAVAILABLE), waits for in-flight requests to be answered, then stops the
// model workers. When ctx ends first, remaining connections are closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.unready.Store(true)
	s.draining.Store(true)
	s.log.Info("shutting down: finishing in-flight requests")
	done := make(chan struct{})
	go func() {
		s.grpcSrv.GracefulStop()
		close(done)
	}()
	err := s.httpSrv.Shutdown(ctx)
	select {
	case <-done:
	case <-ctx.Done():
		s.grpcSrv.Stop()
		<-done
		err = cmp.Or(err, ctx.Err())
	}
	s.close()
	s.log.Info("shut down", "error", err)
	return err
}

// close stops every batcher once (queued jobs are run first).
func (s *Server) close() {
	s.stopOnce.Do(func() {
		for _, f := range s.models {
			for _, e := range f.versions {
				if e.b != nil {
					e.b.close()
				}
			}
		}
	})
}
