package enginetest

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/eas-go/eas/core/engine"
)

// Result is one check's outcome outside `go test`.
type Result struct {
	Name     string
	Failures []string // empty when the check passed
	Duration time.Duration
}

// RunChecks runs every check against b without a testing.T (for machines
// with a device but no Go toolchain: `easrun conformance`), calling each
// result as it comes if progress is not nil.
func RunChecks(b engine.Backend, progress func(Result)) []Result {
	var out []Result
	for _, c := range Checks() {
		r := &reporter{}
		start := time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer func() {
				if p := recover(); p != nil {
					r.Errorf("panic: %v", p)
				}
			}()
			c.Fn(r, b)
		}()
		<-done
		for i := len(r.cleanups) - 1; i >= 0; i-- {
			r.cleanups[i]()
		}
		res := Result{Name: c.Name, Failures: r.msgs, Duration: time.Since(start)}
		out = append(out, res)
		if progress != nil {
			progress(res)
		}
	}
	return out
}

// reporter is a testing.TB that records failures; Fatal, FailNow and Skip
// end the check's goroutine as in a real test. Methods the checks do not
// call are the nil embedded TB's and would panic (reported as a failure).
type reporter struct {
	testing.TB
	msgs     []string
	cleanups []func()
}

func (r *reporter) Helper()                   {}
func (r *reporter) Log(...any)                {}
func (r *reporter) Logf(string, ...any)       {}
func (r *reporter) Fail()                     { r.Errorf("failed") }
func (r *reporter) Failed() bool              { return len(r.msgs) > 0 }
func (r *reporter) FailNow()                  { r.Fail(); runtime.Goexit() }
func (r *reporter) Error(a ...any)            { r.Errorf("%s", fmt.Sprint(a...)) }
func (r *reporter) Fatal(a ...any)            { r.Error(a...); runtime.Goexit() }
func (r *reporter) Fatalf(f string, a ...any) { r.Errorf(f, a...); runtime.Goexit() }
func (r *reporter) Errorf(f string, a ...any) { r.msgs = append(r.msgs, fmt.Sprintf(f, a...)) }
func (r *reporter) Skip(...any)               { runtime.Goexit() }
func (r *reporter) Skipf(string, ...any)      { runtime.Goexit() }
func (r *reporter) SkipNow()                  { runtime.Goexit() }
func (r *reporter) Cleanup(f func())          { r.cleanups = append(r.cleanups, f) }
