package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// headerLen is the binary tensor data extension's header: the length of the JSON
// part of a body whose tail holds raw tensors.
const headerLen = "Inference-Header-Content-Length"

// Handler is the REST API: OIP v2 under /v2 and Prometheus metrics at /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /v2/health/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !s.Ready() {
			writeError(w, errorf(kindUnavailable, "server is shutting down"))
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /v2", s.serverMetadata)
	mux.HandleFunc("GET /v2/models/{name}", s.modelMetadata)
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}", s.modelMetadata)
	mux.HandleFunc("GET /v2/models/{name}/ready", s.modelReady)
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}/ready", s.modelReady)
	mux.HandleFunc("POST /v2/models/{name}/infer", s.httpInfer)
	mux.HandleFunc("POST /v2/models/{name}/versions/{version}/infer", s.httpInfer)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.met.reg, promhttp.HandlerOpts{}))
	return mux
}

// writeError writes an OIP error body: {"error": "..."}.
func writeError(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(kindOf(err).httpStatus())
	json.NewEncoder(w).Encode(struct { //nolint:errcheck // the client may be gone
		Error string `json:"error"`
	}{err.Error()})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client may be gone
}

type tensorMeta struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

type modelMeta struct {
	Name     string       `json:"name"`
	Versions []string     `json:"versions"`
	Platform string       `json:"platform"`
	Inputs   []tensorMeta `json:"inputs"`
	Outputs  []tensorMeta `json:"outputs"`
}

// extensions are the OIP extensions the server implements.
var extensions = []string{"binary_tensor_data"}

func (s *Server) serverMetadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, struct {
		Name       string   `json:"name"`
		Version    string   `json:"version"`
		Extensions []string `json:"extensions"`
	}{"kinfer", Version(), extensions})
}

func (s *Server) meta(e *entry) modelMeta {
	m := modelMeta{Name: e.name, Versions: s.models[e.name].order, Platform: e.platform}
	for _, t := range e.ins {
		m.Inputs = append(m.Inputs, tensorMeta{t.Name, datatype(t), oipShape(t.Shape, -1)})
	}
	for _, t := range e.outs {
		m.Outputs = append(m.Outputs, tensorMeta{t.Name, "FP32", oipShape(t.Shape, -1)})
	}
	return m
}

func (s *Server) modelMetadata(w http.ResponseWriter, r *http.Request) {
	e, err := s.lookup(r.PathValue("name"), r.PathValue("version"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, s.meta(e))
}

func (s *Server) modelReady(w http.ResponseWriter, r *http.Request) {
	if _, err := s.lookup(r.PathValue("name"), r.PathValue("version")); err != nil {
		writeError(w, err)
		return
	}
	if !s.Ready() {
		writeError(w, errorf(kindUnavailable, "server is shutting down"))
		return
	}
	w.WriteHeader(http.StatusOK)
}

// jsonRequest is an OIP inference request's JSON (the header, with binary data).
type jsonRequest struct {
	ID         string         `json:"id"`
	Parameters map[string]any `json:"parameters"`
	Inputs     []struct {
		Name       string          `json:"name"`
		Datatype   string          `json:"datatype"`
		Shape      []int64         `json:"shape"`
		Parameters map[string]any  `json:"parameters"`
		Data       json.RawMessage `json:"data"`
	} `json:"inputs"`
	Outputs []struct {
		Name       string         `json:"name"`
		Parameters map[string]any `json:"parameters"`
	} `json:"outputs"`
}

func boolParam(p map[string]any, key string) (v, ok bool) {
	v, ok = p[key].(bool)
	return v, ok
}

// readBody reads at most limit bytes, growing with what arrives rather than
// trusting Content-Length.
func readBody(r *http.Request, w http.ResponseWriter, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errorf(kindTooLarge, "request body of %d bytes is over the limit of %d", r.ContentLength, limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, errorf(kindTooLarge, "request body is over the limit of %d bytes", limit)
	case err != nil:
		return nil, errorf(kindBadRequest, "reading the request body: %v", err)
	}
	return body, nil
}

func (s *Server) httpInfer(w http.ResponseWriter, r *http.Request) {
	t0 := time.Now()
	name, version := r.PathValue("name"), r.PathValue("version")
	e, err := s.lookup(name, version)
	if err == nil {
		err = s.admit()
	}
	if err == nil {
		defer s.release()
		var resp []byte
		var hl int
		resp, hl, err = s.httpInferBody(r, w, e)
		if err == nil {
			if hl >= 0 {
				w.Header().Set(headerLen, strconv.Itoa(hl))
				w.Header().Set("Content-Type", "application/octet-stream")
			} else {
				w.Header().Set("Content-Type", "application/json")
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
			w.Write(resp) //nolint:errcheck // the client may be gone
		}
	}
	if err != nil {
		writeError(w, err)
	}
	s.observe("http", e, name, version, t0, err)
}

// httpInferBody decodes, runs and encodes one REST inference. hl is the JSON
// header's length when the response carries binary outputs, else -1.
func (s *Server) httpInferBody(r *http.Request, w http.ResponseWriter, e *entry) (resp []byte, hl int, err error) {
	body, err := readBody(r, w, s.cfg.MaxRequestBytes)
	if err != nil {
		return nil, 0, err
	}
	head, bin := body, []byte(nil)
	if v := r.Header.Get(headerLen); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > len(body) {
			return nil, 0, errorf(kindBadRequest, "%s %q: want a length within the %d-byte body", headerLen, v, len(body))
		}
		head, bin = body[:n], body[n:]
	}
	var req jsonRequest
	if err := json.Unmarshal(head, &req); err != nil {
		return nil, 0, errorf(kindBadRequest, "request JSON: %v", err)
	}
	hs := make([]tensorHeader, len(req.Inputs))
	for i, in := range req.Inputs {
		hs[i] = tensorHeader{in.Name, in.Datatype, in.Shape}
	}
	n, order, err := s.plan(e, hs)
	if err != nil {
		return nil, 0, err
	}
	// Binary parts follow the JSON in the request's input order.
	parts := make([][]byte, len(req.Inputs))
	for i, in := range req.Inputs {
		size, ok := in.Parameters["binary_data_size"]
		if !ok {
			continue
		}
		f, isNum := size.(float64)
		if !isNum || f < 0 || f > float64(len(bin)) || f != float64(int64(f)) {
			return nil, 0, errorf(kindBadRequest, "input %q: binary_data_size %v does not fit the %d bytes of binary data left", in.Name, size, len(bin))
		}
		parts[i], bin = bin[:int(f)], bin[int(f):]
	}
	if len(bin) != 0 {
		return nil, 0, errorf(kindBadRequest, "%d bytes of binary data beyond the inputs' binary_data_size", len(bin))
	}
	ins := make([][]float32, len(e.ins))
	for k := range e.ins {
		in := &req.Inputs[order[k]]
		ins[k] = make([]float32, n*e.inPer[k])
		switch {
		case parts[order[k]] != nil:
			err = decodeRaw(ins[k], parts[order[k]], in.Datatype, e.ins[k].Name)
		case len(in.Data) > 0:
			err = decodeJSON(ins[k], in.Data, in.Datatype, e.ins[k].Name)
		default:
			err = errorf(kindBadRequest, "input %q: no data", in.Name)
		}
		if err == nil {
			err = checkIDs(e, k, ins[k])
		}
		if err != nil {
			return nil, 0, err
		}
	}

	// Which outputs, and in which form.
	allBinary, _ := boolParam(req.Parameters, "binary_data_output")
	type want struct {
		k   int
		bin bool
	}
	var wants []want
	if len(req.Outputs) == 0 {
		for k := range e.outs {
			wants = append(wants, want{k, allBinary})
		}
	}
	for _, o := range req.Outputs {
		k := -1
		for j, t := range e.outs {
			if t.Name == o.Name {
				k = j
			}
		}
		if k < 0 {
			return nil, 0, errorf(kindBadRequest, "model %s has no output named %q", e.name, o.Name)
		}
		b, ok := boolParam(o.Parameters, "binary_data")
		if !ok {
			b = allBinary
		}
		wants = append(wants, want{k, b})
	}

	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	outs, err := s.infer(ctx, e, n, ins)
	if err != nil {
		return nil, 0, err
	}

	var js bytes.Buffer
	js.WriteString(`{"model_name":`)
	writeString(&js, e.name)
	js.WriteString(`,"model_version":`)
	writeString(&js, e.version)
	if req.ID != "" {
		js.WriteString(`,"id":`)
		writeString(&js, req.ID)
	}
	js.WriteString(`,"outputs":[`)
	var raw []byte
	anyBin := false
	var buf []byte
	for i, o := range wants {
		t := e.outs[o.k]
		if i > 0 {
			js.WriteByte(',')
		}
		js.WriteString(`{"name":`)
		writeString(&js, t.Name)
		js.WriteString(`,"datatype":"FP32","shape":`)
		sh, _ := json.Marshal(oipShape(t.Shape, int64(n)))
		js.Write(sh)
		if o.bin {
			anyBin = true
			js.WriteString(`,"parameters":{"binary_data_size":`)
			js.WriteString(strconv.Itoa(4 * len(outs[o.k])))
			js.WriteString(`}}`)
			raw = appendRaw(raw, outs[o.k])
			continue
		}
		js.WriteString(`,"data":`)
		if buf, err = appendJSON(buf[:0], outs[o.k], t.Name); err != nil {
			return nil, 0, err
		}
		js.Write(buf)
		js.WriteByte('}')
	}
	js.WriteString(`]}`)
	if !anyBin {
		return js.Bytes(), -1, nil
	}
	hl = js.Len()
	js.Write(raw)
	return js.Bytes(), hl, nil
}

func writeString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s)
	b.Write(q)
}
