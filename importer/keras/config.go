package keras

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/kinfer/kinfer/layers"
)

// conf reads typed fields from one layer's JSON config. The first bad field is kept in
// err (wrapping layers.ErrInvalid) and later reads return defaults, so a builder reads
// all its fields and checks err once.
type conf struct {
	m   map[string]any
	err error
}

func (c *conf) fail(key string, v any, want string) {
	if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) > maxConfInt {
		want = fmt.Sprintf("a size of magnitude at most %d", maxConfInt)
	}
	if c.err == nil {
		c.err = fmt.Errorf("config field %q is %s, want %s: %w", key, jsonText(v), want, layers.ErrInvalid)
	}
}

// get returns a field, treating JSON null as absent.
func (c *conf) get(key string) (any, bool) {
	v, ok := c.m[key]
	if !ok || v == nil {
		return nil, false
	}
	return v, true
}

func (c *conf) has(key string) bool { _, ok := c.get(key); return ok }

func (c *conf) str(key, def string) string {
	v, ok := c.get(key)
	if !ok {
		return def
	}
	s, ok := v.(string)
	if !ok {
		c.fail(key, v, "a string")
		return def
	}
	return s
}

func (c *conf) boolean(key string, def bool) bool {
	v, ok := c.get(key)
	if !ok {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		c.fail(key, v, "true or false")
		return def
	}
	return b
}

// maxConfInt bounds integers read from configs (sizes, strides, axes).
const maxConfInt = 1 << 30

func asInt(v any) (int, bool) {
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || math.Abs(f) > maxConfInt {
		return 0, false
	}
	return int(f), true
}

func (c *conf) integer(key string, def int) int {
	v, ok := c.get(key)
	if !ok {
		return def
	}
	n, ok := asInt(v)
	if !ok {
		c.fail(key, v, "an integer")
		return def
	}
	return n
}

func (c *conf) float(key string, def float64) float64 {
	v, ok := c.get(key)
	if !ok {
		return def
	}
	f, ok := v.(float64)
	if !ok {
		c.fail(key, v, "a number")
		return def
	}
	return f
}

// ints reads an n-tuple of integers; a single integer is repeated n times (Keras
// accepts both for kernel sizes and strides).
func (c *conf) ints(key string, n int, def []int) []int {
	v, ok := c.get(key)
	if !ok {
		return def
	}
	if x, ok := asInt(v); ok {
		out := make([]int, n)
		for i := range out {
			out[i] = x
		}
		return out
	}
	l, ok := v.([]any)
	if !ok || len(l) != n {
		c.fail(key, v, fmt.Sprintf("an integer or a list of %d integers", n))
		return def
	}
	out := make([]int, n)
	for i, e := range l {
		x, ok := asInt(e)
		if !ok {
			c.fail(key, v, fmt.Sprintf("a list of %d integers", n))
			return def
		}
		out[i] = x
	}
	return out
}

// intList reads a list of integers of any length.
func (c *conf) intList(key string) ([]int, bool) {
	v, ok := c.get(key)
	if !ok {
		return nil, false
	}
	l, ok := v.([]any)
	if !ok {
		if x, ok := asInt(v); ok {
			return []int{x}, true
		}
		c.fail(key, v, "a list of integers")
		return nil, false
	}
	out := make([]int, len(l))
	for i, e := range l {
		x, ok := asInt(e)
		if !ok {
			c.fail(key, v, "a list of integers")
			return nil, false
		}
		out[i] = x
	}
	return out, true
}

// jsonText renders a decoded JSON value briefly for error messages.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	s := string(b)
	if err != nil {
		s = fmt.Sprintf("%v", v)
	}
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// batchShape parses a Keras shape list with a leading batch axis ([null, 28, 28, 1]).
// Unknown dimensions are returned as -1.
func batchShape(v any) ([]int, error) {
	l, ok := v.([]any)
	if !ok || len(l) == 0 {
		return nil, fmt.Errorf("input shape %s is not a list with a batch axis: %w", jsonText(v), layers.ErrInvalid)
	}
	out := make([]int, 0, len(l)-1)
	for _, e := range l[1:] {
		if e == nil {
			out = append(out, -1)
			continue
		}
		x, ok := asInt(e)
		if !ok || x <= 0 {
			return nil, fmt.Errorf("input shape %s has dimension %s: %w", jsonText(v), jsonText(e), layers.ErrInvalid)
		}
		out = append(out, x)
	}
	return out, nil
}

// spec is one layer of the flattened Sequential model.
type spec struct {
	Name  string // path: "<outer>/<inner>" for layers of nested Sequentials
	Class string
	Conf  *conf
	// Raw is the layer's whole entry (class_name, config, module, build_config, ...).
	Raw map[string]any
}

// modelInfo is what the config says besides the layer list.
type modelInfo struct {
	Name          string
	Specs         []spec
	InputShape    []int // declared input shape without batch (-1 = unknown); nil if none
	ConvertedFrom string
}

// parseModel flattens a Sequential (or single-chain Functional) model config into its
// layer list. Nested Sequentials are flattened with "<outer>/<inner>" names.
func parseModel(v any) (*modelInfo, error) {
	mi := &modelInfo{}
	if err := mi.addModel(v, "", 0, true); err != nil {
		return nil, err
	}
	return mi, nil
}

const maxNesting = 32

func (mi *modelInfo) addModel(v any, prefix string, depth int, top bool) error {
	if depth > maxNesting {
		return fmt.Errorf("model config nests Sequentials more than %d deep: %w", maxNesting, layers.ErrUnsupported)
	}
	var list []any
	var cls string
	switch m := v.(type) {
	case []any: // very old Keras: a bare list of layers
		list = m
		cls = "Sequential"
	case map[string]any:
		cls, _ = m["class_name"].(string)
		cfgv := m["config"]
		switch cls {
		case "Sequential":
		case "Functional", "Model":
			if !top {
				return fmt.Errorf("nested %s model %q: only nested Sequentials are supported: %w", cls, strings.TrimSuffix(prefix, "/"), layers.ErrUnsupported)
			}
			chain, err := functionalChain(cfgv)
			if err != nil {
				return err
			}
			mi.ConvertedFrom = cls
			cfgv = map[string]any{"name": nameOf(cfgv), "layers": chain}
		case "":
			return fmt.Errorf("model config has no class_name: %w", layers.ErrBadFile)
		default:
			return fmt.Errorf("model class %q: only Sequential models (or single-chain Functional ones) are supported: %w", cls, layers.ErrUnsupported)
		}
		switch c := cfgv.(type) {
		case []any: // Keras 2.0-2.2: Sequential config is a bare list of layers
			list = c
		case map[string]any:
			l, ok := c["layers"].([]any)
			if !ok {
				return fmt.Errorf("Sequential config has no layer list: %w", layers.ErrBadFile)
			}
			list = l
			if top {
				mi.Name, _ = c["name"].(string)
			}
		default:
			return fmt.Errorf("Sequential config is %s, not an object: %w", jsonText(cfgv), layers.ErrBadFile)
		}
		if bc, ok := m["build_config"].(map[string]any); ok && mi.InputShape == nil && len(mi.Specs) == 0 {
			if is, ok := bc["input_shape"]; ok && is != nil {
				s, err := batchShape(is)
				if err != nil {
					return fmt.Errorf("model build_config: %w", err)
				}
				mi.InputShape = s
			}
		}
	default:
		return fmt.Errorf("model config is %s, not an object: %w", jsonText(v), layers.ErrBadFile)
	}
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return fmt.Errorf("layer %d of %q is %s, not an object: %w", i, strings.TrimSuffix(prefix, "/"), jsonText(e), layers.ErrBadFile)
		}
		cls, _ := m["class_name"].(string)
		cfg, _ := m["config"].(map[string]any)
		if cls == "" || cfg == nil {
			return fmt.Errorf("layer %d of model %q has no class_name or config: %w", i, strings.TrimSuffix(prefix, "/"), layers.ErrBadFile)
		}
		name, _ := cfg["name"].(string)
		if name == "" {
			name = fmt.Sprintf("%s_%d", strings.ToLower(cls), i)
		}
		path := prefix + name
		if cls == "Sequential" || cls == "Functional" || cls == "Model" {
			if err := mi.addModel(m, path+"/", depth+1, false); err != nil {
				return err
			}
			continue
		}
		mi.Specs = append(mi.Specs, spec{Name: path, Class: cls, Conf: &conf{m: cfg}, Raw: m})
	}
	return nil
}

func nameOf(v any) string {
	if m, ok := v.(map[string]any); ok {
		s, _ := m["name"].(string)
		return s
	}
	return ""
}

// functionalChain turns a Functional model's layer graph into a layer list when it is
// a single chain from one input to one output.
func functionalChain(cfgv any) ([]any, error) {
	cfg, ok := cfgv.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("Functional config is not an object: %w", layers.ErrBadFile)
	}
	list, ok := cfg["layers"].([]any)
	if !ok {
		return nil, fmt.Errorf("Functional config has no layer list: %w", layers.ErrBadFile)
	}
	refs := func(v any) []string {
		l, _ := v.([]any)
		if len(l) > 0 {
			if s, ok := l[0].(string); ok { // ["name", 0, 0]
				return []string{s}
			}
		}
		var out []string
		for _, e := range l {
			if t, ok := e.([]any); ok && len(t) > 0 {
				if s, ok := t[0].(string); ok {
					out = append(out, s)
				}
			}
		}
		return out
	}
	ins, outs := refs(cfg["input_layers"]), refs(cfg["output_layers"])
	if len(ins) == 0 || len(outs) == 0 {
		return nil, fmt.Errorf("Functional model config has no input_layers or output_layers: %w", layers.ErrUnsupported)
	}
	if len(ins) != 1 || len(outs) != 1 {
		return nil, fmt.Errorf("Functional model has %d inputs and %d outputs; only single-input single-output chains are supported: %w", len(ins), len(outs), layers.ErrUnsupported)
	}
	byName := map[string]map[string]any{}
	consumers := map[string][]string{}
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("Functional layer %d is not an object: %w", i, layers.ErrBadFile)
		}
		name := nameOf(m["config"])
		if name == "" {
			name, _ = m["name"].(string)
		}
		if name == "" {
			return nil, fmt.Errorf("Functional layer %d has no name: %w", i, layers.ErrBadFile)
		}
		if _, dup := byName[name]; dup {
			return nil, fmt.Errorf("Functional model has two layers named %q: %w", name, layers.ErrBadFile)
		}
		byName[name] = m
		nodes, _ := m["inbound_nodes"].([]any)
		if len(nodes) > 1 {
			return nil, fmt.Errorf("layer %q is called %d times (shared layer); only single chains are supported: %w", name, len(nodes), layers.ErrUnsupported)
		}
		var srcs []string
		if len(nodes) == 1 {
			srcs = inboundNames(nodes[0])
		}
		if len(srcs) > 1 {
			return nil, fmt.Errorf("layer %q has %d inputs; branching Functional models are not supported: %w", name, len(srcs), layers.ErrUnsupported)
		}
		for _, s := range srcs {
			consumers[s] = append(consumers[s], name)
		}
	}
	chain := []string{ins[0]}
	seen := map[string]bool{ins[0]: true}
	for {
		next := consumers[chain[len(chain)-1]]
		if len(next) > 1 {
			return nil, fmt.Errorf("output of layer %q feeds %d layers; branching Functional models are not supported: %w", chain[len(chain)-1], len(next), layers.ErrUnsupported)
		}
		if len(next) == 0 {
			break
		}
		if seen[next[0]] {
			return nil, fmt.Errorf("Functional model has a cycle at layer %q: %w", next[0], layers.ErrBadFile)
		}
		seen[next[0]] = true
		chain = append(chain, next[0])
	}
	if chain[len(chain)-1] != outs[0] || len(chain) != len(byName) {
		return nil, fmt.Errorf("Functional model is not a single chain from its input to its output: %w", layers.ErrUnsupported)
	}
	out := make([]any, len(chain))
	for i, n := range chain {
		out[i] = byName[n]
	}
	return out, nil
}

// inboundNames lists the layers feeding one inbound node, Keras 2 or Keras 3 style.
func inboundNames(node any) []string {
	var names []string
	switch n := node.(type) {
	case map[string]any: // Keras 3: {"args": [...], "kwargs": {...}}
		var walk func(v any, depth int)
		walk = func(v any, depth int) {
			if depth > 64 {
				return
			}
			switch o := v.(type) {
			case map[string]any:
				if o["class_name"] == "__keras_tensor__" {
					if c, ok := o["config"].(map[string]any); ok {
						if h, ok := c["keras_history"].([]any); ok && len(h) > 0 {
							if s, ok := h[0].(string); ok {
								names = append(names, s)
							}
						}
					}
					return
				}
				for _, k := range []string{"args", "kwargs"} {
					if e, ok := o[k]; ok {
						walk(e, depth+1)
					}
				}
				if _, ok := o["args"]; !ok {
					for _, e := range o {
						walk(e, depth+1)
					}
				}
			case []any:
				for _, e := range o {
					walk(e, depth+1)
				}
			}
		}
		walk(n, 0)
	case []any: // Keras 2: [["name", node_index, tensor_index, kwargs], ...]
		for _, t := range n {
			if l, ok := t.([]any); ok && len(l) > 0 {
				if s, ok := l[0].(string); ok {
					names = append(names, s)
				}
			}
		}
	}
	return names
}
