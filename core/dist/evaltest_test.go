package dist

import (
	"testing"
	"time"

	"github.com/eas-go/eas/core/search"
	"github.com/eas-go/eas/core/search/evaltest"
)

// TestEvaluatorConformance: the NATS evaluator, with one worker process
// that fetches the data from the run, passes the evaluator suite.
func TestEvaluatorConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server and a worker process")
	}
	skip := map[string]string{"FailureStaysAlone": "known defect: a job whose weights do not fit its architecture is refused by every worker and redelivered forever instead of failing"}
	evaltest.Run(t, evaltest.Options{Skip: skip}, func(t *testing.T, env evaltest.Env) search.Evaluator {
		o := env.Split
		spec := SplitSpec{Validation: o.Validation, Seed: o.Seed, Limit: o.Limit, Normalize: o.Normalize, Augment: o.Augment}
		r := startRun(t, t.TempDir(), 0, Options{Data: env.Data, DataName: "quadrants", DataKind: "idx", Split: spec,
			Settings: Settings{AckWait: 2 * time.Second, Attempts: 1}})
		startWorker(t, r.srv.URL, "EAS_DIST_TEST_THREADS=1")
		return r.ev
	})
}
