package keras

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"strings"
	"unsafe"

	"github.com/kinfer/kinfer/internal/npyf"
	"github.com/kinfer/kinfer/layers"
)

// array is one float32 member of the npz: a C-order tensor. An array from
// archive.lazy has its Shape (from the member's header) but no Data until fetch.
type array struct {
	Shape []int
	Data  []float32
	load  func() ([]float32, error) // reads Data; nil for arrays already in memory
}

// fetch reads the array's payload if it has not been read.
func (x *array) fetch() error {
	if x.load == nil {
		return nil
	}
	d, err := x.load()
	if err != nil {
		return err
	}
	x.Data, x.load = d, nil
	return nil
}

// maxMetaBytes bounds kinfer_meta.npy (the model's JSON config and weight index).
// Keras configs of real models are tens to hundreds of KiB (MobileNet's kinfer_meta is 90 KiB);
// parsing JSON into Go values costs up to ~20 times its size (15 MiB of JSON numbers:
// 288 MB max RSS), so the bound keeps that near 300 MB.
const maxMetaBytes = 16 << 20

// verifyAbove: a deflated member larger than this that expands more than
// verifyRatio times is first decompressed to nowhere, which checks its real size and
// CRC-32, before its buffer is allocated, so a member that lies about its size or is
// corrupt costs time, not memory. Real weights barely compress (VGG16's fc1: 1.08x)
// and are read once; their buffer is justified by the bytes in the file.
const (
	verifyAbove = 16 << 20
	verifyRatio = 4
)

// maxDeflateRatio bounds how much a deflated member may expand: deflate cannot do
// better than about 1032:1, so a member claiming more is lying about its size.
const maxDeflateRatio = 1040

// archive is an opened npz: its members by name (without the ".npy" suffix). Errors
// about members do not name the file; callers add it with the layer at fault.
type archive struct {
	file    string // name for error messages
	size    int64
	members map[string]*zip.File
}

func openArchive(r io.ReaderAt, size int64, file string) (*archive, error) {
	if size < 0 {
		return nil, fmt.Errorf("%s: negative size %d: %w", file, size, layers.ErrBadFile)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: not an npz (zip) file: %v: %w", file, err, layers.ErrBadFile)
	}
	a := &archive{file: file, size: size, members: map[string]*zip.File{}}
	for _, f := range zr.File {
		name, ok := strings.CutSuffix(f.Name, ".npy")
		if !ok {
			continue
		}
		if _, dup := a.members[name]; dup {
			return nil, fmt.Errorf("%s: member %q appears twice: %w", file, f.Name, layers.ErrBadFile)
		}
		a.members[name] = f
	}
	return a, nil
}

// has reports whether the npz holds member name (without ".npy").
func (a *archive) has(name string) bool { _, ok := a.members[name]; return ok }

// open opens a member, checks its declared sizes against the file, and reads and
// validates its .npy header. It returns the reader positioned at the payload and the
// payload length in bytes.
func (a *archive) open(name string) (io.ReadCloser, npyf.Header, int64, error) {
	f, ok := a.members[name]
	if !ok {
		return nil, npyf.Header{}, 0, fmt.Errorf("member %s.npy is missing: %w", name, layers.ErrBadFile)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("member %s.npy: %s: %w", name, fmt.Sprintf(format, args...), layers.ErrBadFile)
	}
	switch f.Method {
	case zip.Store:
		if f.CompressedSize64 != f.UncompressedSize64 {
			return nil, npyf.Header{}, 0, bad("stored member has compressed size %d but size %d", f.CompressedSize64, f.UncompressedSize64)
		}
	case zip.Deflate:
		if f.UncompressedSize64/maxDeflateRatio > f.CompressedSize64 {
			return nil, npyf.Header{}, 0, bad("deflated member claims %d bytes from %d compressed", f.UncompressedSize64, f.CompressedSize64)
		}
	default:
		return nil, npyf.Header{}, 0, bad("zip compression method %d (only stored and deflated are read)", f.Method)
	}
	if f.CompressedSize64 > uint64(a.size) {
		return nil, npyf.Header{}, 0, bad("compressed size %d exceeds the file size %d", f.CompressedSize64, a.size)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, npyf.Header{}, 0, bad("%v", err)
	}
	h, err := npyf.ReadHeader(rc)
	if err != nil {
		rc.Close()
		return nil, npyf.Header{}, 0, fmt.Errorf("member %s.npy: %w", name, err)
	}
	if uint64(h.Len) > f.UncompressedSize64 {
		rc.Close()
		return nil, npyf.Header{}, 0, bad("header of %d bytes is longer than the member (%d bytes)", h.Len, f.UncompressedSize64)
	}
	return rc, h, int64(f.UncompressedSize64) - int64(h.Len), nil
}

// finish checks that a member's payload ended exactly where its header said (which
// also makes archive/zip verify the CRC-32).
func (a *archive) finish(rc io.Reader, name string) error {
	var probe [1]byte
	n, err := io.ReadFull(rc, probe[:])
	switch {
	case n > 0:
		return fmt.Errorf("member %s.npy has bytes after its payload: %w", name, layers.ErrBadFile)
	case err == io.EOF:
		return nil
	case errors.Is(err, zip.ErrChecksum):
		return fmt.Errorf("member %s.npy fails its CRC-32 check (corrupt file): %w", name, layers.ErrBadFile)
	default:
		return fmt.Errorf("member %s.npy: %v: %w", name, err, layers.ErrBadFile)
	}
}

// float32Header opens a float32 member (dtype <f4 or >f4) and checks its header
// against the member's size; it returns the open reader positioned at the payload.
func (a *archive) float32Header(name string) (io.ReadCloser, npyf.Header, error) {
	rc, h, payload, err := a.open(name)
	if err != nil {
		return nil, npyf.Header{}, err
	}
	bad := func(format string, args ...any) error {
		rc.Close()
		return fmt.Errorf("member %s.npy: %s: %w", name, fmt.Sprintf(format, args...), layers.ErrBadFile)
	}
	if h.Dtype != "<f4" && h.Dtype != ">f4" {
		return nil, npyf.Header{}, bad("dtype %s, want float32 (<f4 or >f4)", h.Dtype)
	}
	n := h.Elements() // npyf bounds it by layers.MaxElements
	if n > layers.MaxElements {
		return nil, npyf.Header{}, bad("shape %v has more than %d elements", h.Shape, layers.MaxElements)
	}
	if int64(n)*4 != payload {
		return nil, npyf.Header{}, bad("shape %v needs %d bytes of float32, the member holds %d", h.Shape, int64(n)*4, payload)
	}
	return rc, h, nil
}

// lazy reads a float32 member's header only: the array has its shape, and fetch
// reads the payload. Callers check the shape against what the model needs first.
func (a *archive) lazy(name string) (*array, error) {
	rc, h, err := a.float32Header(name)
	if err != nil {
		return nil, err
	}
	rc.Close()
	return &array{Shape: append([]int(nil), h.Shape...), load: func() ([]float32, error) {
		x, err := a.float32s(name)
		if err != nil {
			return nil, err
		}
		return x.Data, nil
	}}, nil
}

// memberBytes is the declared size of a member (0 if absent).
func (a *archive) memberBytes(name string) int64 {
	if f, ok := a.members[name]; ok {
		return int64(min(f.UncompressedSize64, 1<<62))
	}
	return 0
}

// verify decompresses a large, highly compressed member without keeping it, so that a member
// whose stream is shorter or longer than declared, or fails its CRC-32, is refused
// before a buffer of the declared size exists.
func (a *archive) verify(name string) error {
	f := a.members[name]
	if f == nil || f.Method != zip.Deflate || f.UncompressedSize64 <= verifyAbove ||
		f.UncompressedSize64/verifyRatio < f.CompressedSize64 {
		return nil
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("member %s.npy: %v: %w", name, err, layers.ErrBadFile)
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	switch {
	case errors.Is(err, zip.ErrChecksum):
		return fmt.Errorf("member %s.npy fails its CRC-32 check (corrupt file): %w", name, layers.ErrBadFile)
	case err != nil:
		return fmt.Errorf("member %s.npy: %v after %d of %d bytes: %w", name, err, n, f.UncompressedSize64, layers.ErrBadFile)
	}
	return nil
}

// float32s reads a float32 member. Sizes are checked before allocating.
func (a *archive) float32s(name string) (*array, error) {
	if err := a.verify(name); err != nil {
		return nil, err
	}
	rc, h, err := a.float32Header(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("member %s.npy: %s: %w", name, fmt.Sprintf(format, args...), layers.ErrBadFile)
	}
	n := h.Elements()
	data := make([]float32, n)
	if n > 0 {
		buf := unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*n)
		if _, err := io.ReadFull(rc, buf); err != nil {
			return nil, bad("payload: %v", err)
		}
		if swap := (h.Dtype == ">f4") == littleEndian; swap {
			for i := 0; i < len(buf); i += 4 {
				buf[i], buf[i+1], buf[i+2], buf[i+3] = buf[i+3], buf[i+2], buf[i+1], buf[i]
			}
		}
	}
	if err := a.finish(rc, name); err != nil {
		return nil, err
	}
	shape := append([]int(nil), h.Shape...)
	if h.Fortran && len(shape) > 1 {
		data = fromFortran(data, shape)
	}
	return &array{Shape: shape, Data: data}, nil
}

// bytes reads a uint8 member (kinfer_meta).
func (a *archive) bytes(name string) ([]byte, error) {
	rc, h, payload, err := a.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("member %s.npy: %s: %w", name, fmt.Sprintf(format, args...), layers.ErrBadFile)
	}
	if h.Dtype != "|u1" {
		return nil, bad("dtype %s, want uint8 (|u1)", h.Dtype)
	}
	if len(h.Shape) != 1 {
		return nil, bad("shape %v, want one axis", h.Shape)
	}
	n := h.Shape[0]
	if n > maxMetaBytes {
		return nil, bad("%d bytes is larger than the %d allowed", n, maxMetaBytes)
	}
	if int64(n) != payload {
		return nil, bad("shape %v needs %d bytes, the member holds %d", h.Shape, n, payload)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, bad("payload: %v", err)
	}
	if err := a.finish(rc, name); err != nil {
		return nil, err
	}
	return buf, nil
}

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// fromFortran reorders column-major data of the given shape to row-major.
func fromFortran(src []float32, shape []int) []float32 {
	dst := make([]float32, len(src))
	r := len(shape)
	idx := make([]int, r)
	// fstride[i] is the column-major stride of axis i.
	fstride := make([]int, r)
	s := 1
	for i := 0; i < r; i++ {
		fstride[i] = s
		s *= shape[i]
	}
	for o := range dst {
		off := 0
		for i := 0; i < r; i++ {
			off += idx[i] * fstride[i]
		}
		dst[o] = src[off]
		for i := r - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return dst
}
