package serve

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus collectors, on a registry of its own (one per
// Server, so tests and embedders can run several).
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec   // protocol, model, version
	errors    *prometheus.CounterVec   // protocol, model, version, kind
	latency   *prometheus.HistogramVec // protocol, model, version
	queueTime *prometheus.HistogramVec // model, version
	batchSize *prometheus.HistogramVec // model, version
	depth     *prometheus.GaugeVec     // model, version
	inflight  prometheus.Gauge
}

// modelMetrics are one model version's batcher collectors.
type modelMetrics struct {
	queueTime  prometheus.Observer
	batchSize  prometheus.Observer
	queueDepth prometheus.Gauge
}

func newMetrics() *metrics {
	lat := prometheus.ExponentialBuckets(50e-6, 2, 18) // 50 µs to 6.5 s
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kinfer_requests_total",
			Help: "Inference requests received, by protocol and model."}, []string{"protocol", "model", "version"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kinfer_request_errors_total",
			Help: "Inference requests that failed, by kind (bad_request, not_found, too_large, overloaded, unavailable, timeout, canceled, internal)."},
			[]string{"protocol", "model", "version", "kind"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kinfer_request_duration_seconds",
			Help: "Inference request latency, from the request decoded to the response encoded.", Buckets: lat},
			[]string{"protocol", "model", "version"}),
		queueTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kinfer_queue_duration_seconds",
			Help: "Time a request waited in its model's queue before its batch ran.", Buckets: lat},
			[]string{"model", "version"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kinfer_batch_size",
			Help: "Samples per model run (merged requests).", Buckets: prometheus.ExponentialBuckets(1, 2, 11)},
			[]string{"model", "version"}),
		depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kinfer_queue_depth",
			Help: "Requests waiting in a model's queue."}, []string{"model", "version"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kinfer_inflight_requests",
			Help: "Inference requests being handled."}),
	}
	m.reg.MustRegister(m.requests, m.errors, m.latency, m.queueTime, m.batchSize, m.depth, m.inflight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) forModel(name, version string) *modelMetrics {
	return &modelMetrics{
		queueTime:  m.queueTime.WithLabelValues(name, version),
		batchSize:  m.batchSize.WithLabelValues(name, version),
		queueDepth: m.depth.WithLabelValues(name, version),
	}
}
