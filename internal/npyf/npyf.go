// Package npyf reads and writes float32 arrays in NumPy's .npy format, checking every
// size a file declares against the bytes actually present before allocating.
//
// Headers are parsed here (a strict reader of numpy's header dictionary, keys in any
// order); payloads are read in one io.ReadFull. Float arrays may be little- or
// big-endian ('<', '>', or '=' for native, which is little-endian on every platform
// kinfer supports).
package npyf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/kinfer/kinfer/layers"
)

// maxHeader bounds the header dictionary length; numpy writes at most a few hundred
// bytes, and the format caps version 1 headers at 64 KiB.
const maxHeader = 1 << 16

// Header is an array's dtype and shape.
type Header struct {
	Dtype   string // numpy descr, e.g. "<f4" ('=' resolved to '<', one-byte types as "|u1")
	Fortran bool
	Shape   []int
	Len     int // header length in bytes, payload starts here
}

// Elements is the product of the shape (1 for a scalar).
func (h Header) Elements() int {
	n := 1
	for _, d := range h.Shape {
		n *= d
	}
	return n
}

// ElemSize is the byte size of one element of the dtypes this package reads (0 for
// others).
func (h Header) ElemSize() int {
	switch h.Dtype {
	case "<f4", ">f4":
		return 4
	case "<f8", ">f8":
		return 8
	case "|u1", "|i1":
		return 1
	}
	return 0
}

// IsFloat reports whether the array is float32 or float64, of either byte order.
func (h Header) IsFloat() bool {
	switch h.Dtype {
	case "<f4", ">f4", "<f8", ">f8":
		return true
	}
	return false
}

// Decode converts a float payload of n elements in the header's dtype (IsFloat) to
// float32, into dst[:n].
func (h Header) Decode(dst []float32, data []byte) {
	var bo binary.ByteOrder = binary.LittleEndian
	if h.Dtype[0] == '>' {
		bo = binary.BigEndian
	}
	if h.Dtype[1:] == "f4" {
		for i := range dst {
			dst[i] = math.Float32frombits(bo.Uint32(data[4*i:]))
		}
		return
	}
	for i := range dst {
		dst[i] = float32(math.Float64frombits(bo.Uint64(data[8*i:])))
	}
}

// ReadHeader reads and validates a .npy header.
func ReadHeader(r io.Reader) (Header, error) {
	var pre [10]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return Header{}, fmt.Errorf("%w: npy header truncated", layers.ErrBadFile)
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return Header{}, fmt.Errorf("%w: not a .npy array (bad magic)", layers.ErrBadFile)
	}
	var hl int
	start := 10
	switch pre[6] {
	case 1:
		hl = int(binary.LittleEndian.Uint16(pre[8:]))
	case 2, 3:
		var more [2]byte
		if _, err := io.ReadFull(r, more[:]); err != nil {
			return Header{}, fmt.Errorf("%w: npy header truncated", layers.ErrBadFile)
		}
		hl = int(binary.LittleEndian.Uint32(append(pre[8:10:10], more[:]...)))
		start = 12
	default:
		return Header{}, fmt.Errorf("%w: npy version %d not supported", layers.ErrBadFile, pre[6])
	}
	if hl <= 0 || hl > maxHeader {
		return Header{}, fmt.Errorf("%w: npy header length %d out of range", layers.ErrBadFile, hl)
	}
	dict := make([]byte, hl)
	if _, err := io.ReadFull(r, dict); err != nil {
		return Header{}, fmt.Errorf("%w: npy header truncated", layers.ErrBadFile)
	}
	h, err := parseDict(dict)
	if err != nil {
		return Header{}, err
	}
	h.Len = start + hl
	return h, nil
}

// parseDict parses the header dictionary, a Python literal with exactly the keys
// 'descr' (a dtype string), 'fortran_order' (True or False) and 'shape' (a tuple of
// non-negative integers), in any order, as numpy itself accepts. A '=' byte order is
// resolved to little-endian (the byte order of every platform kinfer runs on), and the
// element count is bounded by layers.MaxElements.
func parseDict(dict []byte) (Header, error) {
	p := &dictParser{s: string(dict)}
	bad := func(why string) (Header, error) {
		return Header{}, fmt.Errorf("%w: npy header dictionary %.200q: %s", layers.ErrBadFile, p.s, why)
	}
	var h Header
	seen := map[string]bool{}
	p.space()
	if !p.eat('{') {
		return bad("does not start with '{'")
	}
	for {
		p.space()
		if p.eat('}') {
			break
		}
		key, ok := p.str()
		if !ok {
			return bad("expected a quoted key")
		}
		p.space()
		if !p.eat(':') {
			return bad("expected ':' after key " + key)
		}
		p.space()
		if seen[key] {
			return bad("key " + key + " appears twice")
		}
		seen[key] = true
		switch key {
		case "descr":
			d, ok := p.str()
			if !ok {
				return bad("descr is not a string (structured dtypes are not supported)")
			}
			h.Dtype = normDtype(d)
		case "fortran_order":
			switch {
			case p.word("True"):
				h.Fortran = true
			case p.word("False"):
			default:
				return bad("fortran_order is not True or False")
			}
		case "shape":
			shape, why := p.shape()
			if why != "" {
				return bad(why)
			}
			h.Shape = shape
		default:
			return bad("unexpected key " + key)
		}
		p.space()
		if p.eat('}') {
			break
		}
		if !p.eat(',') {
			return bad("expected ',' or '}'")
		}
	}
	if !seen["descr"] || !seen["fortran_order"] || !seen["shape"] {
		return bad("needs the keys 'descr', 'fortran_order' and 'shape'")
	}
	if strings.TrimRight(p.s[p.i:], " \t\n\x00") != "" {
		return bad("text after the dictionary")
	}
	return h, nil
}

// normDtype resolves the native byte order '=' (little-endian on every supported
// platform) and spells one-byte types with '|'.
func normDtype(d string) string {
	if len(d) < 2 {
		return d
	}
	order, rest := d[0], d[1:]
	switch order {
	case '<', '>', '=', '|':
	default:
		order, rest = '=', d
	}
	if rest == "u1" || rest == "i1" || rest == "b1" {
		return "|" + rest
	}
	if order == '=' {
		order = '<'
	}
	return string(order) + rest
}

// dictParser scans the header dictionary.
type dictParser struct {
	s string
	i int
}

func (p *dictParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *dictParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *dictParser) word(w string) bool {
	if strings.HasPrefix(p.s[p.i:], w) {
		p.i += len(w)
		return true
	}
	return false
}

// str reads a quoted string without escapes (numpy never writes any in a header).
func (p *dictParser) str() (string, bool) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", false
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", false
	}
	v := p.s[p.i+1 : p.i+1+end]
	if strings.ContainsRune(v, '\\') {
		return "", false
	}
	p.i += end + 2
	return v, true
}

// shape reads a tuple of integers, checking the element count as it goes.
func (p *dictParser) shape() ([]int, string) {
	if !p.eat('(') {
		return nil, "shape is not a tuple"
	}
	shape := []int{}
	n := 1
	for {
		p.space()
		if p.eat(')') {
			break
		}
		if len(shape) == maxRank {
			return nil, fmt.Sprintf("shape has more than %d axes", maxRank)
		}
		start := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		digits := p.s[start:p.i]
		p.eat('L') // Python 2 long literals
		if digits == "" {
			return nil, "shape holds something other than non-negative integers"
		}
		d, err := strconv.Atoi(digits)
		if err != nil || d > layers.MaxElements || (d > 0 && n > layers.MaxElements/d) {
			return nil, fmt.Sprintf("shape is larger than %d elements", layers.MaxElements)
		}
		n *= d
		shape = append(shape, d)
		p.space()
		if p.eat(')') {
			break
		}
		if !p.eat(',') {
			return nil, "expected ',' or ')' in shape"
		}
	}
	if len(shape) == 1 && !strings.HasSuffix(strings.TrimRight(p.s[:p.i-1], " "), ",") {
		return nil, "a one-axis shape needs a trailing comma, as (n,)"
	}
	return shape, ""
}

// maxRank bounds the number of axes (numpy's own limit is 64).
const maxRank = 64

// ReadFloat32 reads a whole float32 or float64 array (converted to float32) from r.
// avail is the number of bytes the stream holds (header included), or -1 when
// unknown; when known, a shape that needs more bytes than that is an error before
// anything is allocated.
func ReadFloat32(r io.Reader, avail int64) ([]float32, []int, error) {
	h, err := ReadHeader(r)
	if err != nil {
		return nil, nil, err
	}
	es := h.ElemSize()
	if !h.IsFloat() {
		return nil, nil, fmt.Errorf("%w: array dtype %s, want float32 (f4) or float64 (f8)", layers.ErrBadFile, h.Dtype)
	}
	if h.Fortran && len(h.Shape) > 1 {
		return nil, nil, fmt.Errorf("%w: Fortran-order arrays are not supported; save with np.ascontiguousarray", layers.ErrUnsupported)
	}
	n := h.Elements()
	need := int64(n) * int64(es)
	if avail >= 0 && need != avail-int64(h.Len) {
		return nil, nil, fmt.Errorf("%w: array %v of %s needs %d bytes, file has %d", layers.ErrBadFile, h.Shape, h.Dtype, need, avail-int64(h.Len))
	}
	if avail < 0 {
		// Unknown length: read in bounded chunks so a lying header cannot force a
		// huge allocation up front.
		data, err := readBounded(r, need)
		if err != nil {
			return nil, nil, err
		}
		return decode(h, data, n), h.Shape, nil
	}
	data := make([]byte, need)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, nil, fmt.Errorf("%w: array payload truncated: %v", layers.ErrBadFile, err)
	}
	return decode(h, data, n), h.Shape, nil
}

func readBounded(r io.Reader, need int64) ([]byte, error) {
	var buf bytes.Buffer
	got, err := io.CopyN(&buf, r, need)
	if err != nil || got != need {
		return nil, fmt.Errorf("%w: array payload truncated: %d of %d bytes", layers.ErrBadFile, got, need)
	}
	return buf.Bytes(), nil
}

func decode(h Header, data []byte, n int) []float32 {
	out := make([]float32, n)
	h.Decode(out, data)
	return out
}

// WriteFloat32 writes data as a C-order little-endian float32 array of the given shape.
func WriteFloat32(w io.Writer, data []float32, shape []int) error {
	n := 1
	dims := make([]string, len(shape))
	for i, d := range shape {
		n *= d
		dims[i] = fmt.Sprint(d)
	}
	if n != len(data) {
		return fmt.Errorf("npyf: shape %v does not match %d values", shape, len(data))
	}
	sh := "(" + strings.Join(dims, ", ")
	if len(shape) == 1 {
		sh += ","
	}
	sh += ")"
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", sh)
	// pad so that magic+version+len+dict+newline is a multiple of 64
	pad := 64 - (10+len(dict)+1)%64
	dict += strings.Repeat(" ", pad%64) + "\n"
	hdr := append([]byte("\x93NUMPY\x01\x00"), byte(len(dict)), byte(len(dict)>>8))
	buf := make([]byte, 0, len(hdr)+len(dict)+4*len(data))
	buf = append(buf, hdr...)
	buf = append(buf, dict...)
	for _, v := range data {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
	}
	_, err := w.Write(buf)
	return err
}

// ReadFile reads a float32 or float64 .npy file as float32, naming the file in errors.
func ReadFile(path string) ([]float32, []int, error) { return readFile(path, ReadFloat32) }

// readFile opens path and runs read on it with its size, naming the file in errors.
func readFile[T any](path string, read func(io.Reader, int64) ([]T, []int, error)) ([]T, []int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	x, shape, err := read(f, st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return x, shape, nil
}

// IsInt reports whether a dtype is one ReadIDs reads as integers.
func IsInt(dtype string) bool { return dtype == "<i4" || dtype == "<i8" }

// ReadIDs reads an int32 or int64 .npy (token ids) as int32, or a float32/float64 one
// whose values are whole numbers; an id outside the int32 range, or a fraction, is an
// error naming its index. avail is as for ReadFloat32.
func ReadIDs(r io.Reader, avail int64) ([]int32, []int, error) {
	h, err := ReadHeader(r)
	if err != nil {
		return nil, nil, err
	}
	if h.Fortran && len(h.Shape) > 1 {
		return nil, nil, fmt.Errorf("%w: Fortran-order arrays are not supported; save with np.ascontiguousarray", layers.ErrUnsupported)
	}
	es := 0
	switch h.Dtype {
	case "<i4", "<f4":
		es = 4
	case "<i8", "<f8":
		es = 8
	default:
		return nil, nil, fmt.Errorf("%w: array dtype %s, want token ids as int32 (<i4), int64 (<i8) or whole-number floats", layers.ErrBadFile, h.Dtype)
	}
	n := h.Elements()
	need := int64(n) * int64(es)
	var data []byte
	if avail >= 0 {
		if need != avail-int64(h.Len) {
			return nil, nil, fmt.Errorf("%w: array %v of %s needs %d bytes, file has %d", layers.ErrBadFile, h.Shape, h.Dtype, need, avail-int64(h.Len))
		}
		data = make([]byte, need)
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, nil, fmt.Errorf("%w: array payload truncated: %v", layers.ErrBadFile, err)
		}
	} else if data, err = readBounded(r, need); err != nil {
		return nil, nil, err
	}
	out := make([]int32, n)
	for i := range out {
		var v float64
		switch h.Dtype {
		case "<i4":
			out[i] = int32(binary.LittleEndian.Uint32(data[4*i:]))
			continue
		case "<i8":
			x := int64(binary.LittleEndian.Uint64(data[8*i:]))
			if x < math.MinInt32 || x > math.MaxInt32 {
				return nil, nil, fmt.Errorf("%w: id %d at index %d is outside the int32 range", layers.ErrBadFile, x, i)
			}
			out[i] = int32(x)
			continue
		case "<f4":
			v = float64(math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])))
		default:
			v = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
		}
		if v != math.Trunc(v) || v < math.MinInt32 || v > math.MaxInt32 {
			return nil, nil, fmt.Errorf("%w: value %g at index %d is not a whole number in the int32 range (the model reads token ids)", layers.ErrBadFile, v, i)
		}
		out[i] = int32(v)
	}
	return out, h.Shape, nil
}

// ReadIDsFile is ReadIDs on a file, naming it in errors.
func ReadIDsFile(path string) ([]int32, []int, error) { return readFile(path, ReadIDs) }

// FileDtype returns the dtype of a .npy file's header.
func FileDtype(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h, err := ReadHeader(f)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return h.Dtype, nil
}
