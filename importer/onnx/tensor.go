package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

// maxFolded bounds the element count of any tensor the importer computes while folding
// constants (ConstantOfShape, Expand, Tile, ...): such tensors have no bytes in the file
// to check a size against, so a hostile shape must not be able to exhaust memory.
// 2^24 elements is 128 MiB as int64; shape subgraphs fold to a few values, and a
// folded weight (Transpose or Reshape of an initializer) of 16M values is a 4096x4096
// matrix.
var maxFolded = 1 << 24 // a variable so that the fuzz target can lower it

// maxFoldedBytes bounds the total size of all the tensors folding keeps: each is
// bounded by maxFolded, but a chain of folded ops would otherwise keep every result
// (a 130-byte file folding eight 2^26-element int64 tensors took 7 GB).
var maxFoldedBytes int64 = 256 << 20

// bytes is the tensor's size in memory.
func (t *tensor) bytes() int64 { return 4*int64(len(t.f)) + 8*int64(len(t.i)) }

// tensor is a constant: an initializer, a Constant node's value or a folded result.
// Float data lives in f, integer (and bool) data in i. Two kinds of symbolic batch
// support keep dynamic-batch shape subgraphs foldable:
//   - batch[k] marks an element of an int tensor computed from Shape(x) that holds
//     the (unknown) batch size;
//   - bAxis >= 0 marks an axis stored with size 1 that is the batch axis of a
//     batch-broadcast constant (ConstantOfShape or Expand of a batch-dependent shape).
type tensor struct {
	dims  []int
	f     []float32
	i     []int64
	isInt bool
	batch []bool
	bAxis int
}

func (t *tensor) size() int { return shapeSize(t.dims) }

func shapeSize(d []int) int {
	n := 1
	for _, v := range d {
		n *= v
	}
	return n
}

func newFloat(dims []int, f []float32) *tensor {
	return &tensor{dims: dims, f: f, bAxis: -1}
}

func newInt(dims []int, v []int64) *tensor {
	return &tensor{dims: dims, i: v, isInt: true, bAxis: -1}
}

// hasBatch reports whether any element or axis of t depends on the batch size.
func (t *tensor) hasBatch() bool {
	if t.bAxis >= 0 {
		return true
	}
	for _, b := range t.batch {
		if b {
			return true
		}
	}
	return false
}

// floats returns t's values as float32 (converting integers).
func (t *tensor) floats() []float32 {
	if !t.isInt {
		return t.f
	}
	out := make([]float32, len(t.i))
	for k, v := range t.i {
		out[k] = float32(v)
	}
	return out
}

// ints returns t's values as int64 (truncating floats).
func (t *tensor) ints() []int64 {
	if t.isInt {
		return t.i
	}
	out := make([]int64, len(t.f))
	for k, v := range t.f {
		out[k] = int64(v)
	}
	return out
}

// isBatchMarked reports whether element k is the symbolic batch size.
func (t *tensor) isBatchMarked(k int) bool { return t.batch != nil && t.batch[k] }

// clone returns a deep copy.
func (t *tensor) clone() *tensor {
	c := &tensor{dims: append([]int(nil), t.dims...), isInt: t.isInt, bAxis: t.bAxis}
	if t.f != nil {
		c.f = append([]float32(nil), t.f...)
	}
	if t.i != nil {
		c.i = append([]int64(nil), t.i...)
	}
	if t.batch != nil {
		c.batch = append([]bool(nil), t.batch...)
	}
	return c
}

// checkDims validates dims from a file: non-negative and a bounded product.
func checkDims(dims []int64, what string) ([]int, error) {
	out := make([]int, len(dims))
	n := int64(1) // product of the non-zero dims: empty tensors must not declare huge axes either
	for k, d := range dims {
		if d < 0 {
			return nil, fmt.Errorf("%w: %s has negative dimension %d", layers.ErrBadFile, what, d)
		}
		if d > 0 && n > layers.MaxElements/d {
			return nil, fmt.Errorf("%w: %s dims %v exceed %d elements", layers.ErrBadFile, what, dims, int64(layers.MaxElements))
		}
		n *= max(d, 1)
		out[k] = int(d)
	}
	if len(dims) > 16 {
		return nil, fmt.Errorf("%w: %s has rank %d", layers.ErrUnsupported, what, len(dims))
	}
	return out, nil
}

// elemBytes is the byte size of one element of an ONNX data type in raw_data, or 0
// for types the importer does not read.
func elemBytes(dt int32) int {
	switch onnxpb.TensorProto_DataType(dt) {
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_INT32, onnxpb.TensorProto_UINT32:
		return 4
	case onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_INT64, onnxpb.TensorProto_UINT64:
		return 8
	case onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_BFLOAT16, onnxpb.TensorProto_INT16, onnxpb.TensorProto_UINT16:
		return 2
	case onnxpb.TensorProto_INT8, onnxpb.TensorProto_UINT8, onnxpb.TensorProto_BOOL:
		return 1
	}
	return 0
}

// fromProto converts a TensorProto, checking every size against the bytes present
// before allocating.
func fromProto(tp *onnxpb.TensorProto, what string) (*tensor, error) {
	if tp == nil {
		return nil, fmt.Errorf("%w: %s: missing tensor", layers.ErrBadFile, what)
	}
	if tp.GetName() != "" {
		what = fmt.Sprintf("%s %q", what, tp.GetName())
	}
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(tp.GetExternalData()) > 0 {
		return nil, fmt.Errorf("%w: %s keeps its data in an external file; re-save the model with onnx.save(model, path, save_as_external_data=False) (models under 2 GB)", layers.ErrUnsupported, what)
	}
	if tp.GetSegment() != nil {
		return nil, fmt.Errorf("%w: %s is a segmented tensor", layers.ErrUnsupported, what)
	}
	dims, err := checkDims(tp.GetDims(), what)
	if err != nil {
		return nil, err
	}
	n := shapeSize(dims)
	dt := tp.GetDataType()
	eb := elemBytes(dt)
	if eb == 0 {
		return nil, fmt.Errorf("%w: %s has data type %v", layers.ErrUnsupported, what, onnxpb.TensorProto_DataType(dt))
	}
	raw := tp.GetRawData()
	typ := onnxpb.TensorProto_DataType(dt)
	isFloat := typ == onnxpb.TensorProto_FLOAT || typ == onnxpb.TensorProto_DOUBLE || typ == onnxpb.TensorProto_FLOAT16 || typ == onnxpb.TensorProto_BFLOAT16
	t := &tensor{dims: dims, isInt: !isFloat, bAxis: -1}
	if len(raw) > 0 || n == 0 {
		if len(raw) != n*eb {
			return nil, fmt.Errorf("%w: %s: raw_data holds %d bytes, dims %v of %v need %d", layers.ErrBadFile, what, len(raw), dims, typ, n*eb)
		}
		if isFloat {
			t.f = make([]float32, n)
		} else {
			t.i = make([]int64, n)
		}
		le := binary.LittleEndian
		for k := 0; k < n; k++ {
			b := raw[k*eb:]
			switch typ {
			case onnxpb.TensorProto_FLOAT:
				t.f[k] = math.Float32frombits(le.Uint32(b))
			case onnxpb.TensorProto_DOUBLE:
				t.f[k] = float32(math.Float64frombits(le.Uint64(b)))
			case onnxpb.TensorProto_FLOAT16:
				t.f[k] = half(le.Uint16(b))
			case onnxpb.TensorProto_BFLOAT16:
				t.f[k] = math.Float32frombits(uint32(le.Uint16(b)) << 16)
			case onnxpb.TensorProto_INT64, onnxpb.TensorProto_UINT64:
				t.i[k] = int64(le.Uint64(b))
			case onnxpb.TensorProto_INT32:
				t.i[k] = int64(int32(le.Uint32(b)))
			case onnxpb.TensorProto_UINT32:
				t.i[k] = int64(le.Uint32(b))
			case onnxpb.TensorProto_INT16:
				t.i[k] = int64(int16(le.Uint16(b)))
			case onnxpb.TensorProto_UINT16:
				t.i[k] = int64(le.Uint16(b))
			case onnxpb.TensorProto_INT8:
				t.i[k] = int64(int8(b[0]))
			default: // UINT8, BOOL
				t.i[k] = int64(b[0])
			}
		}
		return t, nil
	}
	bad := func(have int) error {
		return fmt.Errorf("%w: %s holds %d values, dims %v need %d", layers.ErrBadFile, what, have, dims, n)
	}
	switch typ {
	case onnxpb.TensorProto_FLOAT:
		if len(tp.GetFloatData()) != n {
			return nil, bad(len(tp.GetFloatData()))
		}
		t.f = append([]float32(nil), tp.GetFloatData()...)
	case onnxpb.TensorProto_DOUBLE:
		if len(tp.GetDoubleData()) != n {
			return nil, bad(len(tp.GetDoubleData()))
		}
		t.f = make([]float32, n)
		for k, v := range tp.GetDoubleData() {
			t.f[k] = float32(v)
		}
	case onnxpb.TensorProto_INT64:
		if len(tp.GetInt64Data()) != n {
			return nil, bad(len(tp.GetInt64Data()))
		}
		t.i = append([]int64(nil), tp.GetInt64Data()...)
	case onnxpb.TensorProto_UINT32, onnxpb.TensorProto_UINT64:
		if len(tp.GetUint64Data()) != n {
			return nil, bad(len(tp.GetUint64Data()))
		}
		t.i = make([]int64, n)
		for k, v := range tp.GetUint64Data() {
			t.i[k] = int64(v)
		}
	default: // int32_data carries INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16, BFLOAT16
		d := tp.GetInt32Data()
		if len(d) != n {
			return nil, bad(len(d))
		}
		if isFloat {
			t.f = make([]float32, n)
			for k, v := range d {
				if typ == onnxpb.TensorProto_FLOAT16 {
					t.f[k] = half(uint16(v))
				} else {
					t.f[k] = math.Float32frombits(uint32(uint16(v)) << 16)
				}
			}
		} else {
			t.i = make([]int64, n)
			for k, v := range d {
				t.i[k] = int64(v)
			}
		}
	}
	return t, nil
}

// half converts IEEE 754 binary16 bits to float32.
func half(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := int(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch exp {
	case 0:
		if man == 0 {
			return math.Float32frombits(sign)
		}
		v := float32(man) / 1024 / 16384 // subnormal: man * 2^-24
		if sign != 0 {
			v = -v
		}
		return v
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	}
	return math.Float32frombits(sign | uint32(exp-15+127)<<23 | man<<13)
}
