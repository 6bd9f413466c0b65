package runtime

import (
	"fmt"
	"unsafe"

	"github.com/kinfer/kinfer/layers"
)

// Token-id inputs. A graph input of type layers.Int32 holds int32 ids stored as their
// bit patterns in float32 slots (layers.ID / layers.IDBits), so the arena, the step
// list and RunMultiInto stay float32 and an id input costs no conversion: RunIDsInto
// views the caller's []int32 as []float32. Every id is checked against the smallest
// vocabulary reading it before anything runs.

// RunIDsInto runs a batch of a model whose one input is int32 token ids (ids holds
// batch*InputShape().Size() of them) into dst. An id outside the vocabulary is an
// error wrapping layers.ErrIDOutOfRange that names the sample, position, id and
// vocabulary size; nothing is run then. It allocates nothing once a state is
// available, like RunInto.
func (m *Model) RunIDsInto(dst []float32, ids []int32, batch int) error {
	if len(m.ins) != 1 || !m.idInput {
		return fmt.Errorf("runtime: %w: RunIDsInto needs a model with one int32 input", layers.ErrShapeMismatch)
	}
	return m.RunInto(dst, IDsAsFloat32(ids), batch)
}

// RunIDs is RunIDsInto into a new output slice.
func (m *Model) RunIDs(ids []int32, batch int) ([]float32, error) {
	if batch < 1 {
		return nil, fmt.Errorf("runtime: batch %d < 1", batch)
	}
	dst := make([]float32, batch*m.outSize)
	return dst, m.RunIDsInto(dst, ids, batch)
}

// IDsAsFloat32 views ids as the float32 slots an Int32 input holds (no copy), for
// RunInto and RunMultiInto.
func IDsAsFloat32(ids []int32) []float32 {
	if len(ids) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&ids[0])), len(ids))
}

// checkIDs checks the ids of every Int32 input in srcs.
func (m *Model) checkIDs(srcs [][]float32) error {
	for k, v := range m.vocab {
		if v == 0 {
			continue
		}
		if err := layers.CheckIDBits(srcs[k], m.ins[k].per, v); err != nil {
			return fmt.Errorf("runtime: input %q: %w (ids are int32 bit patterns in float32 slots: use RunIDsInto or IDsAsFloat32)", m.g.Inputs()[k].Name, err)
		}
	}
	return nil
}
