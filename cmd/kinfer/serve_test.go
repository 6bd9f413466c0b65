package main

import (
	"strings"
	"testing"
)

func TestServeUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"serve"}, 2, "no models"},
		{[]string{"serve", "bad name=x.onnx"}, 2, "model name"},
		{[]string{"serve", "--log-format", "xml", "m=x.onnx"}, 2, "log-format"},
		{[]string{"serve", "--http", "", "--grpc", "", "m=../../testdata/onnx/keras_mlp_op13.onnx"}, 2, "both empty"},
		{[]string{"serve", "m=../../testdata/onnx/missing.onnx"}, 1, "missing.onnx"},
		{[]string{"serve", "--repo", t.TempDir()}, 1, "no models"},
	} {
		code, _, stderr := run(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d, %q; want %d and %q", c.args, code, stderr, c.code, c.msg)
		}
	}
}
