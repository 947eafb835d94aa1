package cli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/nn"
	"github.com/eas-go/eas/core/train"
	"github.com/eas-go/eas/dsl"
	"github.com/eas-go/eas/dsl/diag"
)

// Table1 is the paper's start network, the default benchmark.
const Table1 = "C(16,3,1) P(2,2,MAX) C(32,3,1) P(2,2,MAX) C(64,3,1) P(2,2,MAX) C(128,3,1) P(4,4,AVG) FC(256) SM(10)"

// BenchCmd measures the engine against this machine's sgemm peak.
type BenchCmd struct {
	Arch       string `default:"${table1}" help:"Architecture to benchmark (default: the paper's Table 1 start network)."`
	Input      string `default:"32x32x3" help:"Input image size HxWxC."`
	Batch      int    `default:"64" help:"Batch size."`
	Steps      int    `default:"50" help:"Timed training steps (evaluation runs the same number of batches)."`
	Workers    int    `default:"0" help:"Engine worker goroutines (0 = number of CPUs)."`
	JSON       bool   `name:"json" help:"Print one JSON object instead of text."`
	Layers     bool   `help:"Also time every layer: forward, backward and eval forward per step (ms and % of the step)."`
	NoPeak     bool   `name:"no-peak" help:"Skip measuring the sgemm peak (peak and ratio report 0)."`
	Graph      bool   `name:"graph-json" hidden:"" help:"Print the lowered graph as JSON and exit (make bench-peers builds the PyTorch twin from it)."`
	Versus     string `help:"Compare training speed with this architecture instead: both are timed in alternating rounds in one process (e.g. a residual network against the chain with the same convolutions)."`
	Rounds     int    `default:"6" help:"Alternating rounds of --steps steps each, with --versus."`
	Concurrent int    `default:"1" help:"Models trained at once, each on its own goroutine (engines other than cpu; on CUDA each on its own stream): the throughput of a search's parallel children."`

	EngineFlags `embed:""`
}

// BenchResult is what bench measures.
type BenchResult struct {
	// Engine and Device say what ran ("cpu"/"cpu", "torch"/"cuda:0"); for
	// the torch engine LibTorch, CUDA, CuDNN and GPU name the libraries and
	// the card.
	Engine   string `json:"engine"`
	Device   string `json:"device"`
	LibTorch string `json:"libtorch,omitempty"`
	CUDA     string `json:"cuda,omitempty"`
	CuDNN    string `json:"cudnn,omitempty"`
	GPU      string `json:"gpu,omitempty"`
	// Concurrent is how many models trained at once (--concurrent; the
	// images/s are their sum).
	Concurrent int     `json:"concurrent,omitempty"`
	BLAS       string  `json:"blas"`
	BLASCore   string  `json:"blas_core"`      // OpenBLAS kernel set in use ("" for gonum)
	BLASNote   string  `json:"blas_core_note"` // how it was chosen
	Kernels    string  `json:"kernels"`        // vector kernels of the non-GEMM layers: avx2+fma or go
	Arch       string  `json:"arch"`
	Batch      int     `json:"batch"`
	Workers    int     `json:"workers"`
	TrainImgS  float64 `json:"train_img_s"`
	EvalImgS   float64 `json:"eval_img_s"`
	GFLOPS     float64 `json:"gflops"`
	PeakGFLOPS float64 `json:"peak_gflops"`
	Ratio      float64 `json:"ratio"`
	RSSMB      float64 `json:"rss_mb"`
	RSSWarmMB  float64 `json:"rss_after_warmup_mb"` // resident set after the warm-up steps
	RSSEndMB   float64 `json:"rss_end_mb"`          // resident set after all training steps: flat if close to the above
	RSSNote    string  `json:"rss_note,omitempty"`  // why the RSS fields are 0 (no /proc/self/status)
	MFLOPImg   float64 `json:"mflop_per_train_image"`
	// AllocsStep and AllocBytesStep are heap allocations per training step
	// in the timed loop (the engine aims at near zero).
	AllocsStep     float64      `json:"allocs_per_step"`
	AllocBytesStep float64      `json:"alloc_bytes_per_step"`
	Layers         []BenchLayer `json:"layers,omitempty"`
}

// BenchLayer is one layer's share of a step (--layers), in milliseconds per
// step of c.Batch images.
type BenchLayer struct {
	Node     int     `json:"node"`
	Op       string  `json:"op"`
	Name     string  `json:"name,omitempty"`
	Output   string  `json:"output"` // CxHxW
	FwdMS    float64 `json:"forward_ms"`
	BwdMS    float64 `json:"backward_ms"`
	EvalMS   float64 `json:"eval_ms"`
	TrainPct float64 `json:"train_pct"` // (forward+backward) / sum over layers
	EvalPct  float64 `json:"eval_pct"`
}

// Run benchmarks a training step (forward, loss, backward, SGD update) and an
// evaluation forward, then measures sgemm's peak in the same process.
func (c *BenchCmd) Run(g *Globals) error {
	// Opening the engine applies the BLAS and kernel settings; the CPU
	// engine's net is built directly so the benchmark sees it without the
	// interface; other engines are timed through it (benchBackend).
	be, err := openEngine(c.EngineFlags, c.Workers)
	if err != nil {
		return err
	}
	workers := c.Workers
	if workers == 0 {
		workers = runtime.NumCPU()
	}
	in, err := ir.ParseShape(c.Input)
	if err != nil {
		return err
	}
	a, l := dsl.ValidateArch("--arch", c.Arch, in)
	if l.HasErrors() {
		diag.Write(g.Stderr, c.Arch, l)
		return Exit(1)
	}
	if c.Batch < 1 || c.Steps < 1 {
		return fmt.Errorf("--batch and --steps must be positive")
	}
	if c.Versus != "" {
		return c.runVersus(g, in, workers)
	}
	gr, err := ir.Lower(a, in)
	if err != nil {
		return err
	}
	if c.Graph {
		return writeGraphJSON(g.Stdout, gr)
	}
	params := nn.InitParams(gr, 1)
	x, y := benchBatch(gr, c.Batch)
	if be.Name() != "cpu" {
		return c.benchBackend(g, be, gr, params, x, y)
	}
	net, err := nn.BuildWith(gr, params, c.Batch, nn.Options{Workers: workers})
	if err != nil {
		return err
	}
	tr := experiment.PaperChild()
	opt := train.NewSGD(gr, tr)
	step := func() {
		net.Forward(x, true)
		net.Loss(y)
		net.Backward()
		opt.Step(params, net.Grads(), 1e-4)
	}
	warm := max(2, c.Steps/10)
	for i := 0; i < warm; i++ {
		step()
	}
	rssWarm, rssErr := procStatusMB("VmRSS:")
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	for i := 0; i < c.Steps; i++ {
		step()
	}
	trainSec := time.Since(start).Seconds()
	runtime.ReadMemStats(&ms1)
	rssEnd, err := procStatusMB("VmRSS:")
	rssErr = cmp.Or(rssErr, err)
	start = time.Now()
	for i := 0; i < c.Steps; i++ {
		net.Forward(x, false)
	}
	evalSec := time.Since(start).Seconds()
	var layers []BenchLayer
	if c.Layers {
		// A separate pass, so the clock reads do not touch the timings above.
		net.SetProfiling(true)
		for i := 0; i < c.Steps; i++ {
			step()
			net.Forward(x, false)
		}
		layers = benchLayers(net.Profile())
		net.SetProfiling(false)
	}
	_, madds := gr.Cost()
	flopImg := 6 * float64(madds) // forward 2*madds, backward twice that
	res := BenchResult{Engine: "cpu", Device: "cpu", BLAS: nn.BLASName(), BLASCore: nn.BLASCore(), BLASNote: nn.BLASCoreNote(), Kernels: nn.KernelsName(), Arch: a.String(), Batch: c.Batch, Workers: workers,
		TrainImgS: float64(c.Batch*c.Steps) / trainSec, EvalImgS: float64(c.Batch*c.Steps) / evalSec,
		MFLOPImg: flopImg / 1e6, Layers: layers,
		AllocsStep:     float64(ms1.Mallocs-ms0.Mallocs) / float64(c.Steps),
		AllocBytesStep: float64(ms1.TotalAlloc-ms0.TotalAlloc) / float64(c.Steps)}
	res.GFLOPS = res.TrainImgS * flopImg / 1e9
	if !c.NoPeak {
		res.PeakGFLOPS = nn.PeakGFLOPS(1024, 16)
		res.Ratio = res.GFLOPS / res.PeakGFLOPS
	}
	rssPeak, err := procStatusMB("VmHWM:")
	res.RSSMB, res.RSSWarmMB, res.RSSEndMB = rssPeak, rssWarm, rssEnd
	if rssErr = cmp.Or(rssErr, err); rssErr != nil {
		res.RSSMB, res.RSSWarmMB, res.RSSEndMB = 0, 0, 0
		res.RSSNote = "memory not measured: " + rssErr.Error()
	}
	if c.JSON {
		enc := json.NewEncoder(g.Stdout)
		return enc.Encode(res)
	}
	w := g.Stdout
	fmt.Fprintf(w, "engine        cpu (eas's own)\n")
	fmt.Fprintf(w, "BLAS          %s\n", res.BLAS)
	if res.BLASCore != "" {
		fmt.Fprintf(w, "BLAS core     %s (%s)\n", res.BLASCore, res.BLASNote)
	} else {
		blasNotes(w)
	}
	fmt.Fprintf(w, "kernels       %s (EAS_SIMD=off forces go)\n", res.Kernels)
	fmt.Fprintf(w, "network       %s (batch %d, %d workers, %.1f MFLOP per training image)\n", res.Arch, res.Batch, res.Workers, res.MFLOPImg)
	fmt.Fprintf(w, "train         %.0f images/s (forward + backward + SGD update)\n", res.TrainImgS)
	fmt.Fprintf(w, "eval          %.0f images/s\n", res.EvalImgS)
	fmt.Fprintf(w, "achieved      %.1f GFLOP/s\n", res.GFLOPS)
	if !c.NoPeak {
		fmt.Fprintf(w, "sgemm peak    %.1f GFLOP/s (1024x1024x1024, all cores, fastest of 16, measured now)\n", res.PeakGFLOPS)
		fmt.Fprintf(w, "ratio         %.1f%% of peak\n", 100*res.Ratio)
	}
	if res.RSSNote != "" {
		fmt.Fprintf(w, "peak RSS      unknown (%s)\n", res.RSSNote)
	} else {
		fmt.Fprintf(w, "peak RSS      %.0f MB (resident %.0f MB after warm-up, %.0f MB after %d steps)\n", res.RSSMB, res.RSSWarmMB, res.RSSEndMB, c.Steps)
	}
	fmt.Fprintf(w, "allocations   %.1f per training step (%.0f bytes)\n", res.AllocsStep, res.AllocBytesStep)
	if len(layers) > 0 {
		return writeBenchLayers(w, layers)
	}
	return nil
}

// procStatusMB reads a memory line (VmHWM: peak resident set, VmRSS: current)
// from /proc/self/status; 0 where unavailable.
func procStatusMB(key string) (float64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err // not Linux: no memory figures, said so in the output
	}
	return statusMB(string(b), key)
}

// statusMB reads "KEY   1234 kB" from the text of /proc/self/status.
func statusMB(status, key string) (float64, error) {
	for i, line := range strings.Split(status, "\n") {
		if !strings.HasPrefix(line, key) {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			return 0, fmt.Errorf("/proc/self/status:%d: %q has no value", i+1, line)
		}
		kb, err := strconv.ParseFloat(f[1], 64)
		if err != nil || kb < 0 || (len(f) > 2 && f[2] != "kB") {
			return 0, fmt.Errorf("/proc/self/status:%d: %q is not a size in kB", i+1, line)
		}
		return kb / 1024, nil
	}
	return 0, fmt.Errorf("/proc/self/status: no %s line", strings.TrimSuffix(key, ":"))
}
