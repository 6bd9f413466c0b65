//go:build linux

// Command cputime times a kinfer .npz model at batch 1 on one thread by the calling
// thread's CPU time (getrusage RUSAGE_THREAD), which a shared machine's other jobs
// disturb far less than wall time: after a warm-up of PER calls it runs ROUNDS rounds
// of PER calls and prints the median and minimum per-call CPU and wall time (us).
// Alternate two builds of it to compare commits (bench/results/results_cnn.md):
//
//	go build -o /tmp/cputime ./bench/cputime
//	/tmp/cputime bench/.cache/resnet18/model.npz 8 40
package main

import (
	"fmt"
	"os"
	goruntime "runtime"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/runtime"
)

const rusageThread = 1 // RUSAGE_THREAD

func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "cputime:", err)
		os.Exit(2)
	}
}

func run(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: cputime MODEL.npz ROUNDS PER")
	}
	rounds, err1 := strconv.Atoi(args[1])
	per, err2 := strconv.Atoi(args[2])
	if err1 != nil || err2 != nil || rounds < 1 || per < 1 || rounds > 1000 || per > 1e6 {
		return fmt.Errorf("ROUNDS (1..1000) and PER (1..1e6) must be positive integers")
	}
	goruntime.LockOSThread() // the thread CPU time is this goroutine's
	m, err := keras.Load(args[0])
	if err != nil {
		return err
	}
	cm, err := runtime.Compile(m.Graph, runtime.Options{MaxBatch: 1})
	if err != nil {
		return err
	}
	x := make([]float32, m.Graph.Input().Size())
	for i := range x {
		x[i] = float32(i%7)*0.1 - 0.3
	}
	y := make([]float32, m.Graph.Output().Size())
	for i := 0; i < per; i++ {
		if err := cm.RunInto(y, x, 1); err != nil {
			return err
		}
	}
	var cpu, wall []float64
	for r := 0; r < rounds; r++ {
		c0, w0 := threadCPU(), time.Now()
		for i := 0; i < per; i++ {
			_ = cm.RunInto(y, x, 1)
		}
		cpu = append(cpu, float64(threadCPU()-c0)/float64(per)/1e3)
		wall = append(wall, float64(time.Since(w0))/float64(per)/1e3)
	}
	sort.Float64s(cpu)
	sort.Float64s(wall)
	fmt.Printf("cpu_med_us %.1f cpu_min_us %.1f wall_med_us %.1f wall_min_us %.1f\n", cpu[len(cpu)/2], cpu[0], wall[len(wall)/2], wall[0])
	return nil
}
