package serve

import (
	"bytes"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

var (
	fuzzOnce sync.Once
	fuzzSrv  *Server
	fuzzErr  error
)

// FuzzInfer feeds arbitrary bodies and header lengths to the REST infer handler: it
// must answer 200, 400 or 413 with a body, never panic or hang.
func FuzzInfer(f *testing.F) {
	f.Add([]byte(`{"inputs":[{"name":"keras_tensor","datatype":"FP32","shape":[1,10],"data":[1,2,3,4,5,6,7,8,9,10]}]}`), -1)
	f.Add([]byte(`{"inputs":[{"name":"keras_tensor","datatype":"INT64","shape":[2,10],"data":[[1],[2]]}]}`), -1)
	f.Add([]byte(`{"inputs":[{"name":"keras_tensor","datatype":"FP32","shape":[1,10],"parameters":{"binary_data_size":40}}],"parameters":{"binary_data_output":true}}`+
		"0123456789012345678901234567890123456789"), 131)
	f.Add([]byte(`{"inputs":[{"shape":[-1,10]}],"outputs":[{"name":"Identity:0","parameters":{"binary_data":1}}]}`), -1)
	f.Fuzz(func(t *testing.T, body []byte, hl int) {
		fuzzOnce.Do(func() {
			fuzzSrv, fuzzErr = New(Config{Models: []ModelSpec{{Name: "mlp", Version: "1", Path: mlpPath}},
				MaxRequestBytes: 1 << 16, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		})
		if fuzzErr != nil {
			t.Fatal(fuzzErr)
		}
		req := httptest.NewRequest("POST", "/v2/models/mlp/infer", bytes.NewReader(body))
		if hl >= 0 {
			req.Header.Set(headerLen, strconv.Itoa(hl))
		}
		w := httptest.NewRecorder()
		fuzzSrv.Handler().ServeHTTP(w, req)
		switch w.Code {
		case 200, 400, 413:
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body.Bytes())
		}
		if w.Body.Len() == 0 {
			t.Fatal("empty response")
		}
	})
}
