package dsl

import "github.com/eas-go/eas/core/ir"

// Limits on what a .eas file may ask for. A search is bounded by its budget
// and its steps; values past these are mistakes (an extra zero), and
// accepting them means a run that crawls or cannot allocate. Architectures
// have their own limits in core/ir (ir.MaxLayers, ir.MaxWidth, ...).
const (
	MaxStepRepeat = 1000 // "deeper x N"
	MaxSteps      = 1000 // transform steps per episode, all repeats counted
	// MaxDiagnostics bounds the errors reported for one architecture: past
	// it, more are noise and finding each one's line and column costs time.
	MaxDiagnostics = 100
)

// keyLimits are the largest values of integer settings, by key (a key means
// the same thing wherever it appears: epochs of start, child and final).
var keyLimits = map[string]int{
	"per_episode":    10000,
	"reward_seeds":   100,
	"budget":         1000000,
	"retrain_epochs": 100000,
	"epochs":         100000,
	"step_every":     1000000,
	"batch":          1 << 16,
	"top":            10000,
	"depth":          ir.MaxLayers * 2,
	"kernels":        ir.MaxKernel,
	"filters":        ir.MaxWidth,
	"units":          ir.MaxWidth,
	"growth":         ir.MaxWidth,
}
