package keras

import "github.com/kinfer/kinfer/layers"

// addBuilders3D adds the volumetric (3-D) convolution and pooling classes to the table.
func addBuilders3D(t map[string]buildFunc) {
	t["Conv3D"] = buildConv3D
	t["Convolution3D"] = buildConv3D
	t["MaxPooling3D"] = buildPool3D(true)
	t["MaxPool3D"] = buildPool3D(true)
	t["AveragePooling3D"] = buildPool3D(false)
	t["AvgPool3D"] = buildPool3D(false)
	t["GlobalAveragePooling3D"] = buildGlobalPool3D(false)
	t["GlobalAvgPool3D"] = buildGlobalPool3D(false)
	t["GlobalMaxPooling3D"] = buildGlobalPool3D(true)
	t["GlobalMaxPool3D"] = buildGlobalPool3D(true)
}

// volume arranges a rank-4 volume tensor as (D, H, W, C) for a layer with the given
// data_format.
func (b *builder) volume(df string) error {
	if len(b.phys) != 4 {
		return b.errf(layers.ErrShapeMismatch, "expects a volume input (D, H, W, C) plus batch, got %v", b.logical())
	}
	switch df {
	case "channels_last":
		return b.kerasLayout()
	case "channels_first":
		return b.arrange([]int{1, 2, 3, 0})
	}
	return b.errf(layers.ErrInvalid, "data_format %q", df)
}

// window3D reads a 3-D kernel/pool size, strides, dilation and padding.
func (b *builder) window3D(s *spec, sizeKey string, defSize []int, stridesDefault []int, dilation bool) (layers.Window3D, error) {
	k, st, d, pad, err := b.windowConf(s, 3, sizeKey, defSize, stridesDefault, dilation)
	if err != nil {
		return layers.Window3D{}, err
	}
	w := layers.Window3D{KD: k[0], KH: k[1], KW: k[2], SD: st[0], SH: st[1], SW: st[2], DD: d[0], DH: d[1], DW: d[2], Pad: pad}
	for i := 0; i < 3; i++ {
		if k[i] <= 0 || st[i] <= 0 || d[i] <= 0 || k[i] > 1<<20 || st[i] > 1<<20 || d[i] > 1<<20 {
			return w, b.errf(layers.ErrInvalid, "%s %v, strides %v, dilation_rate %v must be positive", sizeKey, k, st, d)
		}
		if st[i] > 1 && d[i] > 1 {
			return w, b.errf(layers.ErrInvalid, "strides > 1 together with dilation_rate > 1")
		}
	}
	return w, nil
}

func buildConv3D(b *builder, s *spec) error {
	c := s.Conf
	filters := c.integer("filters", 0)
	groups := c.integer("groups", 1)
	bias := c.boolean("use_bias", true)
	df := b.dataFormat(s)
	w, err := b.window3D(s, "kernel_size", nil, []int{1, 1, 1}, true)
	if err != nil {
		return err
	}
	act, err := b.act(s, "activation", "linear")
	if err != nil {
		return err
	}
	if filters <= 0 || groups <= 0 {
		return b.errf(layers.ErrInvalid, "filters=%d groups=%d", filters, groups)
	}
	if err := b.volume(df); err != nil {
		return err
	}
	in := b.phys[3]
	if in%groups != 0 || filters%groups != 0 {
		return b.errf(layers.ErrInvalid, "%d input channels and %d filters do not split into %d groups", in, filters, groups)
	}
	ws, err := b.weightsBias(s, "kernel, bias", bias)
	if err != nil {
		return err
	}
	// Keras's kernel is (kd, kh, kw, in/groups, filters) for either data_format: the
	// layout layers.Conv3D takes.
	if err := b.checkShape("kernel", ws[0], w.KD, w.KH, w.KW, in/groups, filters); err != nil {
		return err
	}
	conv := &layers.Conv3D{Info: info(s), Window3D: w, In: in, Filters: filters, Groups: groups, W: ws[0].Data}
	if bias {
		if err := b.checkShape("bias", ws[1], filters); err != nil {
			return err
		}
		conv.B = ws[1].Data
	}
	return b.emitConv(conv, &conv.Act, act)
}

func buildPool3D(isMax bool) buildFunc {
	return func(b *builder, s *spec) error {
		df := b.dataFormat(s)
		w, err := b.window3D(s, "pool_size", []int{2, 2, 2}, nil, false)
		if err != nil {
			return err
		}
		if err := b.volume(df); err != nil {
			return err
		}
		return b.emit(&layers.Pool3D{Info: info(s), Window3D: w, Max: isMax}, nil)
	}
}

func buildGlobalPool3D(isMax bool) buildFunc {
	return func(b *builder, s *spec) error {
		df := b.dataFormat(s)
		keep := s.Conf.boolean("keepdims", false)
		if err := b.confErr(s); err != nil {
			return err
		}
		if err := b.volume(df); err != nil {
			return err
		}
		// keepdims keeps the layout: (1, 1, 1, C) physical is Keras's (C, 1, 1, 1) for
		// channels_first.
		return b.emit(&layers.GlobalPool3D{Info: info(s), Max: isMax, KeepDims: keep}, nil)
	}
}
