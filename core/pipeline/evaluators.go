package pipeline

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/engine"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/search"
)

// EvaluatorEnv is what an evaluator's constructor gets.
type EvaluatorEnv struct {
	Dir     string                 // the experiment's run directory (an evaluator may keep state there)
	Exp     *experiment.Experiment // the experiment
	Data    *data.Split            // nil for dry-run evaluators
	Workers int                    // children trained at once (resolved by the front end, >= 1)
	// Engine opens the configured engine with this many workers per network.
	Engine func(workers int) (engine.Backend, error)
	Log    Logger
	// Settings are front-end settings of this evaluator (easrun passes the
	// run command's flags, so an evaluator with flags of its own reads them).
	Settings any
}

// EvaluatorKind is a registered evaluator: easrun run --evaluator NAME.
type EvaluatorKind struct {
	Name, Help string
	// DryRun: scores architectures without data or weights (no data is
	// loaded, checkpoints hold architectures only, no final training).
	DryRun bool
	New    func(ctx context.Context, env EvaluatorEnv) (Evaluation, error)
}

var (
	evalMu    sync.Mutex
	evalKinds = map[string]EvaluatorKind{}
)

// RegisterEvaluator makes an evaluator available by name; call it from the
// evaluator package's init. A second registration of a name panics.
func RegisterEvaluator(k EvaluatorKind) {
	evalMu.Lock()
	defer evalMu.Unlock()
	if _, dup := evalKinds[k.Name]; dup || k.Name == "" || k.New == nil {
		panic(fmt.Sprintf("pipeline: evaluator %q registered twice or incomplete", k.Name))
	}
	evalKinds[k.Name] = k
}

// LookupEvaluator finds a registered evaluator; the error lists the names.
func LookupEvaluator(name string) (EvaluatorKind, error) {
	evalMu.Lock()
	defer evalMu.Unlock()
	if k, ok := evalKinds[name]; ok {
		return k, nil
	}
	return EvaluatorKind{}, fmt.Errorf("unknown evaluator %q: registered evaluators are %v", name, evaluatorNames())
}

// EvaluatorNames lists the registered evaluators, sorted.
func EvaluatorNames() []string {
	evalMu.Lock()
	defer evalMu.Unlock()
	return evaluatorNames()
}

func evaluatorNames() []string {
	var names []string
	for n := range evalKinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return slices.Clip(names)
}

func init() {
	RegisterEvaluator(EvaluatorKind{Name: "local", Help: "train every child on this machine, Workers at a time",
		New: func(_ context.Context, env EvaluatorEnv) (Evaluation, error) {
			pool := max(1, env.Workers)
			workers := max(1, runtime.NumCPU()/pool)
			be, err := env.Engine(workers)
			if err != nil {
				return Evaluation{}, err
			}
			env.Log.Printf("evaluator: %d children in parallel, %d engine workers each", pool, workers)
			return Evaluation{Eval: &search.Local{Data: env.Data, Workers: pool, Backend: be}}, nil
		}})
	RegisterEvaluator(EvaluatorKind{Name: "virtual", DryRun: true,
		Help: "score architectures by a deterministic formula (seconds, for dry runs)",
		New: func(context.Context, EvaluatorEnv) (Evaluation, error) {
			d, err := virtualDelay()
			if err != nil {
				return Evaluation{}, err
			}
			return Evaluation{Eval: &search.Virtual{Delay: d}}, nil
		}})
}

// virtualDelay reads EAS_VIRTUAL_DELAY (e.g. 50ms): the crash tests of the
// CLI slow dry runs down with it.
func virtualDelay() (time.Duration, error) {
	v := os.Getenv("EAS_VIRTUAL_DELAY")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("EAS_VIRTUAL_DELAY: %w", err)
	}
	return d, nil
}
