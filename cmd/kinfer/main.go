// Command kinfer runs Keras (exported .npz) and ONNX models with kinfer's runtime.
//
//	kinfer run MODEL INPUT.npy [-o OUT.npy]   run a model on an input array
//	kinfer info MODEL                         summary, FLOPs, arena, kernels, fingerprint
//	kinfer verify MODEL                       check the samples stored in an .npz
//	kinfer bench MODEL [--batch N] ...        latency and throughput
//	kinfer stream MODEL SEQ.npy [--chunk N]   feed a sequence a chunk at a time
//	kinfer serve MODEL... | --repo DIR        serve over the Open Inference Protocol
//
// Errors go to stderr with a non-zero exit status.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `kinfer runs Keras Sequential models (exported to .npz by importer/keras/keras2npz.py)
and ONNX models on the CPU.

Usage:
  kinfer run MODEL INPUT.npy [-o OUT.npy]   run MODEL on INPUT (float32 or float64 .npy;
                                            token ids as int32/int64 or whole numbers;
                                            any length up to the maximum for a model
                                            with a None time axis)
  kinfer info MODEL                         layers, output shapes, parameters, FLOPs,
                                            arena size, kernel path, fingerprint
  kinfer verify MODEL.npz                   run the inputs stored in the .npz and compare
                                            with the framework's stored outputs
  kinfer bench MODEL [--batch N] [--threads T] [--iters N | --duration D] [--json]
  kinfer stream MODEL SEQ.npy [--chunk N]   feed one sequence to a recurrent model a
                                            chunk of steps at a time (its state kept),
                                            printing the output after each chunk
  kinfer serve MODEL... | --repo DIR       serve models over the Open Inference Protocol
                                            (KServe v2): REST, gRPC, /metrics
  kinfer version

MODEL is a .npz written by keras2npz.py or an .onnx file. KINFER_ISA=generic|avx2|
avx512|neon forces a kernel path. Run 'kinfer COMMAND --help' for a command's flags.
`

// errUsage marks command-line mistakes (exit status 2).
var errUsage = errors.New("usage")

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func([]string, io.Writer) error{
		"run":    cmdRun,
		"info":   cmdInfo,
		"verify": cmdVerify,
		"bench":  cmdBench,
		"stream": cmdStream,
		"serve":  cmdServe,
		"version": func([]string, io.Writer) error {
			fmt.Fprintln(stdout, "kinfer", version())
			return nil
		},
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := cmds[name]
	if !ok {
		fmt.Fprintf(stderr, "kinfer: unknown command %q\n\n%s", name, usage)
		return 2
	}
	err := cmd(args[1:], stdout)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "kinfer %s: %v\n", name, err)
		return 2
	case errors.Is(err, errVerifyFailed):
		fmt.Fprintf(stderr, "kinfer %s: %v\n", name, err)
		return 1
	default:
		fmt.Fprintf(stderr, "kinfer %s: %v\n", name, err)
		return 1
	}
}

// newFlags makes a FlagSet whose --help prints the command's usage to stdout.
func newFlags(name, synopsis string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: kinfer %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags that may come before, between or after positional
// arguments and checks the positional count.
func parseArgs(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if want < 0 && len(pos) < -want { // want < 0: at least -want
		return nil, fmt.Errorf("%w: want at least %d arguments, got %d (%s); see --help", errUsage, -want, len(pos), strings.Join(pos, " "))
	}
	if want >= 0 && len(pos) != want {
		return nil, fmt.Errorf("%w: want %d argument(s), got %d (%s); see --help", errUsage, want, len(pos), strings.Join(pos, " "))
	}
	return pos, nil
}
