package dist

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/eas-go/eas/core/checkpoint"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/search"
	"github.com/eas-go/eas/core/tensor"
	"github.com/eas-go/eas/core/train"
)

// verify turns a result into the job's outcome. A worker's failure report
// is the outcome; a success is checked: the weights must be the job's
// architecture with its tensors, and the driver's own accuracy on the
// check sample must agree with the worker's within CheckTolerance (and
// the claimed accuracy with it, within the sample's binomial error). A
// result failing the check is bad: rejected, and its job redone.
func (e *Evaluator) verify(ctx context.Context, c *call, p *prepared, r ResultMsg) (search.Outcome, JournalEntry, error) {
	j := c.jobs[p.idx[0]]
	je := JournalEntry{Job: r.ID, Label: p.msg.Label, Delivery: r.Delivery, Worker: r.Worker, Attempt: r.Attempt,
		Seconds: r.Seconds, Acc: r.Acc, CheckAcc: r.CheckAcc, CheckN: p.msg.CheckN}
	if r.Version == Version {
		b := r.Build
		je.Build = &b
	}
	o := search.Outcome{Duration: time.Duration(r.Seconds * float64(time.Second))}
	bad := func(err error) (search.Outcome, JournalEntry, error) {
		je.Verdict, je.Reason = "rejected", err.Error()
		return o, je, err
	}
	if r.Version != Version {
		return bad(errors.New(r.Error))
	}
	if r.Error != "" {
		je.Verdict, je.Reason = "failed", r.Error
		o.Err = fmt.Errorf("%s (worker %s)", r.Error, r.Worker)
		return o, je, nil
	}
	if r.Weights == nil {
		return bad(errors.New("no weights"))
	}
	w, err := e.fetchWeights(ctx, j, r)
	if err != nil {
		return bad(err)
	}
	own, secs, err := e.check(ctx, j, p, w)
	je.CheckSecs = secs
	if err != nil {
		return bad(fmt.Errorf("driver's check: %w", err))
	}
	je.DriverAcc = &own
	acc := r.Acc
	if err := e.compare(p, r, own, &acc); err != nil {
		return bad(err)
	}
	for n, t := range w {
		copy(j.Weights[n].Data, t.Data)
	}
	for _, i := range p.idx[1:] { // identical jobs get copies of the same weights
		for n, t := range w {
			copy(c.jobs[i].Weights[n].Data, t.Data)
		}
	}
	je.Verdict = "ok"
	o.Acc, o.Weights = acc, j.Weights
	return o, je, nil
}

// fetchWeights reads and checks a result's weights against the job.
func (e *Evaluator) fetchWeights(ctx context.Context, j search.Job, r ResultMsg) (tensor.Map, error) {
	b, err := e.b.outputs.GetBytes(ctx, r.Weights.Name)
	if err != nil {
		return nil, fmt.Errorf("fetching the weights %s: %w", r.Weights.Name, err)
	}
	if int64(len(b)) != r.Weights.Size || sha(b) != r.Weights.SHA256 {
		return nil, errors.New("weights: size or checksum differs from the result's")
	}
	ck, err := checkpoint.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	if ck.ArchString != j.Arch.String() {
		return nil, fmt.Errorf("weights are of %s, the job trained %s", ck.ArchString, j.Arch)
	}
	names := j.Weights.Names()
	sort.Strings(names)
	w := tensor.Map{}
	for _, n := range names {
		t, ok := ck.Params[n]
		if !ok || !t.SameShape(j.Weights[n].Shape) {
			return nil, fmt.Errorf("weights: tensor %s missing or misshaped", n)
		}
		w[n] = t
	}
	if len(ck.Params) != len(names) {
		return nil, fmt.Errorf("weights: %d tensors, the network has %d", len(ck.Params), len(names))
	}
	return w, nil
}

// check is the driver's accuracy on the job's check sample (the virtual
// score for dry runs), and the seconds it took.
func (e *Evaluator) check(ctx context.Context, j search.Job, p *prepared, w tensor.Map) (float64, float64, error) {
	if e.dataRef == nil {
		return search.VirtualScore(j.Arch, j.Input), 0, nil
	}
	if p.msg.CheckN <= 0 {
		return math.NaN(), 0, nil
	}
	start := time.Now()
	g, err := ir.Lower(j.Arch, j.Input)
	if err != nil {
		return 0, 0, err
	}
	acc, _, err := train.Evaluate(ctx, g, w, CheckSource(e.opt.Data, j.Full, p.msg.CheckN), 256, e.opt.Backend)
	return acc, time.Since(start).Seconds(), err
}

// compare applies the tolerances. The search uses the worker's accuracy
// once it passed (so records equal a local run's on the worker's engine);
// the driver's own is in the journal.
func (e *Evaluator) compare(p *prepared, r ResultMsg, own float64, acc *float64) error {
	if e.dataRef == nil {
		if r.Acc != own {
			return fmt.Errorf("claimed score %v, the architecture's virtual score is %v", r.Acc, own)
		}
		return nil
	}
	if math.IsNaN(own) { // no check configured
		return nil
	}
	tol := e.opt.CheckTolerance
	if d := math.Abs(r.CheckAcc - own); d > tol {
		return fmt.Errorf("accuracy on the check sample: worker %.4f, driver %.4f (tolerance %.3f)", r.CheckAcc, own, tol)
	}
	set := e.opt.Data.ValSet
	if p.msg.Full || set == nil {
		set = e.opt.Data.TestSet
	}
	n := min(p.msg.CheckN, set.N)
	if n >= set.N {
		if d := math.Abs(r.Acc - own); d > tol {
			return fmt.Errorf("claimed accuracy %.4f, driver's %.4f on the same images (tolerance %.3f)", r.Acc, own, tol)
		}
		return nil
	}
	// A sample of n images: the full set's accuracy lies within four
	// standard errors of the sample's, plus the tolerance.
	q := min(max(own, 1/float64(n)), 1-1/float64(n))
	if bound := tol + 4*math.Sqrt(q*(1-q)/float64(n)); math.Abs(r.Acc-own) > bound {
		return fmt.Errorf("claimed accuracy %.4f is implausible: %.4f on the first %d images (bound %.3f)", r.Acc, own, n, bound)
	}
	return nil
}
