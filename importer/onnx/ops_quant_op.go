package onnx

import "github.com/kinfer/kinfer/layers"

func opQLinearConv(b *builder, n *node) error {
	return n.errorf(layers.ErrUnsupported, "not yet")
}

func opQLinearMatMul(b *builder, n *node) error {
	return n.errorf(layers.ErrUnsupported, "not yet")
}

func opDynQuant(b *builder, n *node) error {
	return n.errorf(layers.ErrUnsupported, "not yet")
}
