package serve

import (
	"context"
	"runtime/debug"
	"time"

	"github.com/kinfer/kinfer/serve/oippb"
)

// Version is the server's version: the kinfer module's, from the build info.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Path == "github.com/kinfer/kinfer" && bi.Main.Version != "" {
			return bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == "github.com/kinfer/kinfer" && d.Version != "" {
				return d.Version
			}
		}
	}
	return "(devel)"
}

// grpcService implements GRPCInferenceService.
type grpcService struct {
	oippb.UnimplementedGRPCInferenceServiceServer
	s *Server
}

func (g *grpcService) ServerLive(context.Context, *oippb.ServerLiveRequest) (*oippb.ServerLiveResponse, error) {
	return &oippb.ServerLiveResponse{Live: true}, nil
}

func (g *grpcService) ServerReady(context.Context, *oippb.ServerReadyRequest) (*oippb.ServerReadyResponse, error) {
	return &oippb.ServerReadyResponse{Ready: g.s.Ready()}, nil
}

func (g *grpcService) ModelReady(_ context.Context, r *oippb.ModelReadyRequest) (*oippb.ModelReadyResponse, error) {
	if _, err := g.s.lookup(r.GetName(), r.GetVersion()); err != nil {
		return nil, grpcError(err)
	}
	return &oippb.ModelReadyResponse{Ready: g.s.Ready()}, nil
}

func (g *grpcService) ServerMetadata(context.Context, *oippb.ServerMetadataRequest) (*oippb.ServerMetadataResponse, error) {
	return &oippb.ServerMetadataResponse{Name: "kinfer", Version: Version(), Extensions: extensions}, nil
}

func (g *grpcService) ModelMetadata(_ context.Context, r *oippb.ModelMetadataRequest) (*oippb.ModelMetadataResponse, error) {
	e, err := g.s.lookup(r.GetName(), r.GetVersion())
	if err != nil {
		return nil, grpcError(err)
	}
	m := g.s.meta(e)
	resp := &oippb.ModelMetadataResponse{Name: m.Name, Versions: m.Versions, Platform: m.Platform}
	for _, t := range m.Inputs {
		resp.Inputs = append(resp.Inputs, &oippb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape})
	}
	for _, t := range m.Outputs {
		resp.Outputs = append(resp.Outputs, &oippb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape})
	}
	return resp, nil
}

func (g *grpcService) ModelInfer(ctx context.Context, r *oippb.ModelInferRequest) (*oippb.ModelInferResponse, error) {
	t0 := time.Now()
	e, err := g.s.lookup(r.GetModelName(), r.GetModelVersion())
	if err == nil {
		err = g.s.admit()
	}
	var resp *oippb.ModelInferResponse
	if err == nil {
		defer g.s.release()
		resp, err = g.infer(ctx, e, r)
	}
	g.s.observe("grpc", e, r.GetModelName(), r.GetModelVersion(), t0, err)
	if err != nil {
		return nil, grpcError(err)
	}
	return resp, nil
}

func (g *grpcService) infer(ctx context.Context, e *entry, r *oippb.ModelInferRequest) (*oippb.ModelInferResponse, error) {
	hs := make([]tensorHeader, len(r.GetInputs()))
	for i, in := range r.GetInputs() {
		hs[i] = tensorHeader{in.GetName(), in.GetDatatype(), in.GetShape()}
	}
	n, order, err := g.s.plan(e, hs)
	if err != nil {
		return nil, err
	}
	raw := r.GetRawInputContents()
	if len(raw) != 0 && len(raw) != len(hs) {
		return nil, errorf(kindBadRequest, "%d raw_input_contents for %d inputs", len(raw), len(hs))
	}
	ins := make([][]float32, len(e.ins))
	for k := range e.ins {
		i := order[k]
		in := r.GetInputs()[i]
		ins[k] = make([]float32, n*e.inPer[k])
		if len(raw) != 0 {
			err = decodeRaw(ins[k], raw[i], in.GetDatatype(), e.ins[k].Name)
		} else {
			err = decodeContents(ins[k], in.GetContents(), in.GetDatatype(), e.ins[k].Name)
		}
		if err == nil {
			err = checkIDs(e, k, ins[k])
		}
		if err != nil {
			return nil, err
		}
	}
	var wants []int
	for _, o := range r.GetOutputs() {
		k := -1
		for j, t := range e.outs {
			if t.Name == o.GetName() {
				k = j
			}
		}
		if k < 0 {
			return nil, errorf(kindBadRequest, "model %s has no output named %q", e.name, o.GetName())
		}
		wants = append(wants, k)
	}
	if len(wants) == 0 {
		for k := range e.outs {
			wants = append(wants, k)
		}
	}

	ctx, cancel := context.WithTimeout(ctx, g.s.cfg.Timeout)
	defer cancel()
	outs, err := g.s.infer(ctx, e, n, ins)
	if err != nil {
		return nil, err
	}
	resp := &oippb.ModelInferResponse{ModelName: e.name, ModelVersion: e.version, Id: r.GetId()}
	for _, k := range wants {
		t := e.outs[k]
		resp.Outputs = append(resp.Outputs, &oippb.ModelInferResponse_InferOutputTensor{Name: t.Name, Datatype: "FP32", Shape: oipShape(t.Shape, int64(n))})
		resp.RawOutputContents = append(resp.RawOutputContents, appendRaw(make([]byte, 0, 4*len(outs[k])), outs[k]))
	}
	return resp, nil
}

// decodeContents fills dst from typed contents of OIP type dt.
func decodeContents(dst []float32, c *oippb.InferTensorContents, dt, name string) error {
	var got int
	switch dt {
	case "FP32":
		got = len(c.GetFp32Contents())
	case "FP64":
		got = len(c.GetFp64Contents())
	case "INT32":
		got = len(c.GetIntContents())
	case "INT64":
		got = len(c.GetInt64Contents())
	}
	if got != len(dst) {
		return errorf(kindBadRequest, "input %q: %d %s contents, its shape holds %d", name, got, dt, len(dst))
	}
	switch dt {
	case "FP32":
		copy(dst, c.GetFp32Contents())
	case "FP64":
		for i, v := range c.GetFp64Contents() {
			dst[i] = float32(v)
		}
	case "INT32":
		for i, v := range c.GetIntContents() {
			dst[i], _ = idBits(int64(v))
		}
	case "INT64":
		for i, v := range c.GetInt64Contents() {
			f, ok := idBits(v)
			if !ok {
				return errorf(kindBadRequest, "input %q: element %d is out of the int32 range of token ids", name, i)
			}
			dst[i] = f
		}
	}
	return nil
}
