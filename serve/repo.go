package serve

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/kinfer/kinfer"
)

// ModelSpec names one model version to serve and the file it is loaded from.
type ModelSpec struct {
	Name    string
	Version string
	Path    string
}

// ParseSpec reads a command-line model argument: PATH, NAME=PATH or
// NAME:VERSION=PATH. Without a name the file's base name (extension dropped) is
// used; without a version, "1".
func ParseSpec(arg string) (ModelSpec, error) {
	s := ModelSpec{Version: "1"}
	if lhs, path, ok := strings.Cut(arg, "="); ok {
		s.Path = path
		if name, v, ok := strings.Cut(lhs, ":"); ok {
			s.Name, s.Version = name, v
		} else {
			s.Name = lhs
		}
	} else {
		s.Path = arg
		s.Name = strings.TrimSuffix(filepath.Base(arg), filepath.Ext(arg))
	}
	if err := checkName(s.Name, "model name"); err != nil {
		return s, fmt.Errorf("%q: %w", arg, err)
	}
	if err := checkName(s.Version, "version"); err != nil {
		return s, fmt.Errorf("%q: %w", arg, err)
	}
	if s.Path == "" {
		return s, fmt.Errorf("%q: no model path", arg)
	}
	return s, nil
}

// checkName keeps names usable as URL path segments and metric labels.
func checkName(s, what string) error {
	if s == "" || len(s) > 128 {
		return fmt.Errorf("%s %q: want 1 to 128 characters", what, s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') || s == "." || s == ".." {
			return fmt.Errorf("%s %q: want letters, digits, '-', '_' or '.'", what, s)
		}
	}
	return nil
}

// modelExts are the files a repository folder serves.
var modelExts = []string{".onnx", ".npz"}

// ScanRepository lists the models of a repository folder. Two layouts are read:
//
//	DIR/NAME/VERSION/model.onnx (or model.npz, or any one .onnx/.npz file)  Triton's
//	DIR/NAME.onnx, DIR/NAME.npz                                             version 1
func ScanRepository(dir string) ([]ModelSpec, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var specs []ModelSpec
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		p := filepath.Join(dir, name)
		if !e.IsDir() {
			if ext := filepath.Ext(name); slices.Contains(modelExts, ext) {
				s := ModelSpec{Name: strings.TrimSuffix(name, ext), Version: "1", Path: p}
				if err := checkName(s.Name, "model name"); err != nil {
					return nil, fmt.Errorf("%s: %w", p, err)
				}
				specs = append(specs, s)
			}
			continue
		}
		if err := checkName(name, "model name"); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		vers, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		n := len(specs)
		for _, v := range vers {
			if !v.IsDir() || strings.HasPrefix(v.Name(), ".") {
				continue // config.pbtxt and the like
			}
			if err := checkName(v.Name(), "version"); err != nil {
				return nil, fmt.Errorf("%s: %w", filepath.Join(p, v.Name()), err)
			}
			f, err := versionFile(filepath.Join(p, v.Name()))
			if err != nil {
				return nil, err
			}
			specs = append(specs, ModelSpec{Name: name, Version: v.Name(), Path: f})
		}
		if len(specs) == n {
			return nil, fmt.Errorf("%s: no version folders (want %s/VERSION/model.onnx or model.npz)", p, name)
		}
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("%s: no models (want NAME/VERSION/model.onnx|npz or NAME.onnx|npz)", dir)
	}
	return specs, nil
}

// versionFile picks a version folder's model: model.onnx or model.npz, else its one
// .onnx/.npz file.
func versionFile(dir string) (string, error) {
	for _, ext := range modelExts {
		p := filepath.Join(dir, "model"+ext)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var found []string
	for _, e := range ents {
		if !e.IsDir() && slices.Contains(modelExts, filepath.Ext(e.Name())) {
			found = append(found, filepath.Join(dir, e.Name()))
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("%s: want one model file (model.onnx or model.npz), found %d", dir, len(found))
	}
	return found[0], nil
}

// compareVersions orders versions numerically when both are numbers, else as
// strings: the default version of a model is the greatest.
func compareVersions(a, b string) int {
	x, ea := strconv.ParseUint(a, 10, 64)
	y, eb := strconv.ParseUint(b, 10, 64)
	if ea == nil && eb == nil {
		return cmp.Compare(x, y)
	}
	return strings.Compare(a, b)
}

// loadSpec loads and compiles one model version. A folder path holds the model as
// a repository version folder does (model.onnx, model.npz or one such file): the
// layout KServe's storage initializer leaves in /mnt/models.
func loadSpec(s ModelSpec, opt kinfer.Options) (*kinfer.Model, string, error) {
	if st, err := os.Stat(s.Path); err == nil && st.IsDir() {
		p, err := versionFile(s.Path)
		if err != nil {
			return nil, "", err
		}
		s.Path = p
	}
	f, err := os.Open(s.Path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	format, err := kinfer.DetectFormat(f, st.Size())
	if err != nil && !errors.Is(err, kinfer.ErrFormat) {
		return nil, "", fmt.Errorf("%s: %w", s.Path, err)
	}
	m, err := kinfer.LoadReaderAt(f, st.Size(), s.Path, opt)
	if err != nil {
		return nil, "", err
	}
	return m, "kinfer_" + strings.ReplaceAll(string(format), "-", "_"), nil
}
