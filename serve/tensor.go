package serve

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"

	"github.com/kinfer/kinfer/layers"
)

// tensorHeader is a request input's name, datatype and shape, before its data.
type tensorHeader struct {
	name, datatype string
	shape          []int64
}

// datatype is the OIP name of a model tensor's element type as served.
func datatype(t layers.Tensor) string {
	if t.DType == layers.Int32 {
		return "INT32"
	}
	return "FP32"
}

// oipShape is a tensor's OIP shape: a variable batch axis (-1) then the sample's.
func oipShape(s layers.Shape, batch int64) []int64 {
	out := make([]int64, 0, len(s)+1)
	out = append(out, batch)
	for _, d := range s {
		out = append(out, int64(d))
	}
	return out
}

func elemSize(dt string) int {
	switch dt {
	case "FP32", "INT32":
		return 4
	case "FP64", "INT64":
		return 8
	}
	return 0
}

// plan matches a request's inputs to e's: order[k] is the request input feeding model
// input k. It checks names, datatypes and shapes (one batch size for all, each
// sample the model's shape) and the decoded size against the request limit, all
// before anything is allocated.
func (s *Server) plan(e *entry, hs []tensorHeader) (n int, order []int, err error) {
	if len(hs) != len(e.ins) {
		return 0, nil, errorf(kindBadRequest, "model %s takes %d input(s) (%s), request has %d", e.name, len(e.ins), inputNames(e), len(hs))
	}
	order = make([]int, len(e.ins))
	var total int64
	for k, t := range e.ins {
		i := -1
		for j, h := range hs {
			if h.name == t.Name {
				i = j
				break
			}
		}
		if i < 0 && len(e.ins) == 1 {
			i = 0 // one input: its name is not needed to place it
		}
		if i < 0 {
			return 0, nil, errorf(kindBadRequest, "model %s has no input named %q among the request's; want %s", e.name, hs[k].name, inputNames(e))
		}
		h := hs[i]
		order[k] = i
		want := "FP32 or FP64"
		ok := h.datatype == "FP32" || h.datatype == "FP64"
		if t.DType == layers.Int32 {
			want, ok = "INT32 or INT64 (token ids)", h.datatype == "INT32" || h.datatype == "INT64"
		}
		if !ok {
			return 0, nil, errorf(kindBadRequest, "input %q: datatype %q, want %s", t.Name, h.datatype, want)
		}
		if len(h.shape) != len(t.Shape)+1 {
			return 0, nil, errorf(kindBadRequest, "input %q: shape %v, want %v (batch first)", t.Name, h.shape, oipShape(t.Shape, -1))
		}
		for d, v := range t.Shape {
			if h.shape[d+1] != int64(v) {
				return 0, nil, errorf(kindBadRequest, "input %q: shape %v, want %v (batch first)", t.Name, h.shape, oipShape(t.Shape, -1))
			}
		}
		b := h.shape[0]
		if b < 1 || (k > 0 && b != int64(n)) {
			return 0, nil, errorf(kindBadRequest, "input %q: batch %d; want one batch of at least 1 for every input", t.Name, b)
		}
		if b > s.cfg.MaxRequestBytes/int64(4*e.inPer[k]) {
			return 0, nil, errorf(kindTooLarge, "input %q: batch %d is over the request limit of %d bytes", t.Name, b, s.cfg.MaxRequestBytes)
		}
		n = int(b)
		total += b * int64(4*e.inPer[k])
	}
	var out int64
	for _, p := range e.outPer {
		out += int64(n) * int64(4*p)
	}
	if total > s.cfg.MaxRequestBytes || out > s.cfg.MaxRequestBytes {
		return 0, nil, errorf(kindTooLarge, "batch %d needs %d input and %d output bytes, over the request limit of %d", n, total, out, s.cfg.MaxRequestBytes)
	}
	return n, order, nil
}

func inputNames(e *entry) string {
	names := make([]string, len(e.ins))
	for k, t := range e.ins {
		names[k] = strconv.Quote(t.Name)
	}
	return strings.Join(names, ", ")
}

// checkIDs checks the token ids of input k.
func checkIDs(e *entry, k int, v []float32) error {
	if e.vocab[k] == 0 {
		return nil
	}
	if err := layers.CheckIDBits(v, e.inPer[k], e.vocab[k]); err != nil {
		return errorf(kindBadRequest, "input %q: %v", e.ins[k].Name, err)
	}
	return nil
}

// idBits stores an integer id as the runtime expects it: int32 bits in a float32.
func idBits(v int64) (float32, bool) {
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, false
	}
	return math.Float32frombits(uint32(int32(v))), true
}

// decodeRaw fills dst from row-major little-endian elements of type dt.
func decodeRaw(dst []float32, b []byte, dt, name string) error {
	sz := elemSize(dt)
	if len(b) != len(dst)*sz {
		return errorf(kindBadRequest, "input %q: %d bytes of data, want %d (%d %s elements)", name, len(b), len(dst)*sz, len(dst), dt)
	}
	switch dt {
	case "FP32":
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case "FP64":
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	case "INT32":
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case "INT64":
		for i := range dst {
			v, ok := idBits(int64(binary.LittleEndian.Uint64(b[8*i:])))
			if !ok {
				return errorf(kindBadRequest, "input %q: element %d is out of the int32 range of token ids", name, i)
			}
			dst[i] = v
		}
	}
	return nil
}

// decodeJSON fills dst from a JSON array of numbers, flat or nested (row-major
// either way), of OIP type dt. It never holds more than len(dst) values.
func decodeJSON(dst []float32, data []byte, dt, name string) error {
	isInt := dt == "INT32" || dt == "INT64"
	n := 0
	for i := 0; i < len(data); {
		if isDelim(data[i]) {
			i++
			continue
		}
		j := i
		for j < len(data) && !isDelim(data[j]) {
			j++
		}
		tok := string(data[i:j])
		i = j
		if n == len(dst) {
			return errorf(kindBadRequest, "input %q: more than the %d elements its shape holds", name, len(dst))
		}
		if isInt {
			v, err := strconv.ParseInt(tok, 10, 64)
			if err != nil {
				return errorf(kindBadRequest, "input %q: element %d: %q is not an integer", name, n, tok)
			}
			f, ok := idBits(v)
			if !ok {
				return errorf(kindBadRequest, "input %q: element %d is out of the int32 range of token ids", name, n)
			}
			dst[n] = f
		} else {
			v, err := strconv.ParseFloat(tok, 64)
			if err != nil {
				return errorf(kindBadRequest, "input %q: element %d: %q is not a number", name, n, tok)
			}
			dst[n] = float32(v)
		}
		n++
	}
	if n != len(dst) {
		return errorf(kindBadRequest, "input %q: %d elements, its shape holds %d", name, n, len(dst))
	}
	return nil
}

func isDelim(c byte) bool {
	switch c {
	case '[', ']', ',', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// appendRaw appends v as little-endian float32s.
func appendRaw(b []byte, v []float32) []byte {
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// appendJSON appends v as a flat JSON array. JSON has no NaN or infinity: a tensor
// holding one must be asked for in binary form.
func appendJSON(b []byte, v []float32, name string) ([]byte, error) {
	b = append(b, '[')
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, errorf(kindInternal, "output %q: element %d is %v, which JSON cannot hold; request binary_data output", name, i, x)
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(x), 'g', -1, 32)
	}
	return append(b, ']'), nil
}
