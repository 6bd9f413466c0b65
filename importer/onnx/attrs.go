package onnx

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

// node wraps a NodeProto with attribute accessors that remember which attributes a
// handler read, so that any attribute it did not read is reported as unsupported.
type node struct {
	*onnxpb.NodeProto
	used  map[string]bool
	opset int64
	err   error // first attribute type error
}

func newNode(n *onnxpb.NodeProto, opset int64) *node {
	return &node{NodeProto: n, used: map[string]bool{}, opset: opset}
}

// errorf formats an error about this node wrapping kind.
func (n *node) errorf(kind error, format string, args ...any) error {
	return fmt.Errorf("node %q (%s): %w: %s", n.GetName(), n.GetOpType(), kind, fmt.Sprintf(format, args...))
}

// wrap adds the node's name and op type to err.
func (n *node) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("node %q (%s): %w", n.GetName(), n.GetOpType(), err)
}

func (n *node) attr(name string, typ onnxpb.AttributeProto_AttributeType) *onnxpb.AttributeProto {
	n.used[name] = true
	for _, a := range n.GetAttribute() {
		if a.GetName() != name {
			continue
		}
		if a.GetRefAttrName() != "" {
			if n.err == nil {
				n.err = n.errorf(layers.ErrUnsupported, "attribute %q refers to a function attribute", name)
			}
			return nil
		}
		if a.GetType() != typ && a.GetType() != onnxpb.AttributeProto_UNDEFINED {
			if n.err == nil {
				n.err = n.errorf(layers.ErrBadFile, "attribute %q has type %v, want %v", name, a.GetType(), typ)
			}
			return nil
		}
		return a
	}
	return nil
}

func (n *node) has(name string) bool {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return true
		}
	}
	return false
}

func (n *node) int(name string, def int64) int64 {
	if a := n.attr(name, onnxpb.AttributeProto_INT); a != nil {
		return a.GetI()
	}
	return def
}

func (n *node) ints(name string, def []int64) []int64 {
	if a := n.attr(name, onnxpb.AttributeProto_INTS); a != nil {
		return a.GetInts()
	}
	return def
}

func (n *node) float(name string, def float32) float32 {
	if a := n.attr(name, onnxpb.AttributeProto_FLOAT); a != nil {
		return a.GetF()
	}
	return def
}

func (n *node) floats(name string) []float32 {
	if a := n.attr(name, onnxpb.AttributeProto_FLOATS); a != nil {
		return a.GetFloats()
	}
	return nil
}

func (n *node) str(name, def string) string {
	if a := n.attr(name, onnxpb.AttributeProto_STRING); a != nil {
		return string(a.GetS())
	}
	return def
}

func (n *node) strs(name string) []string {
	a := n.attr(name, onnxpb.AttributeProto_STRINGS)
	if a == nil {
		return nil
	}
	var out []string
	for _, s := range a.GetStrings() {
		out = append(out, string(s))
	}
	return out
}

// ignore marks attributes that do not affect inference.
func (n *node) ignore(names ...string) {
	for _, s := range names {
		n.used[s] = true
	}
}

// done reports attribute type errors and any attribute the handler did not read.
func (n *node) done() error {
	if n.err != nil {
		return n.err
	}
	var left []string
	for _, a := range n.GetAttribute() {
		if !n.used[a.GetName()] {
			left = append(left, a.GetName())
		}
	}
	if len(left) > 0 {
		sort.Strings(left)
		return n.errorf(layers.ErrUnsupported, "attribute %s not supported", strings.Join(left, ", "))
	}
	return nil
}

// in returns input k's name ("" when absent).
func (n *node) in(k int) string {
	if k < len(n.GetInput()) {
		return n.GetInput()[k]
	}
	return ""
}

// out returns output k's name ("" when absent).
func (n *node) out(k int) string {
	if k < len(n.GetOutput()) {
		return n.GetOutput()[k]
	}
	return ""
}
