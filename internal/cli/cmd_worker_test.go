package cli

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eas-go/eas/core/data/datatest"
)

// distExperiment is a tiny real search (8x8 images, small nets). The start
// network trains for the first %d epochs: enough (seconds) for a worker to be
// killed in the middle of that job; the children train for the second %d.
const distExperiment = `experiment "dist"
dataset tiny {
  kind = idx
  path = "%s"
  validation = 40
  seed = 1
  augment = false
}
start {
  arch = "C(4,3,1) P(2,2,MAX) FC(8) SM(10)"
  epochs = %d
  lr = 0.05
  batch = 16
}
child {
  epochs = %d
  batch = 16
  lr = 0.02
}
search "s" {
  controller = random
  steps = [wider, deeper]
  per_episode = 2
  budget = 6
  seed = 1
}
final {
  top = 1
  epochs = 2
  batch = 16
}
`

// lineProc is a process whose stderr lines are collected.
type lineProc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  []string
	done chan struct{}
}

func startProc(t *testing.T, bin string, args ...string) *lineProc {
	t.Helper()
	p := &lineProc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	stderr, _ := p.cmd.StderrPipe()
	p.cmd.Stdout = nil
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.out = append(p.out, sc.Text())
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	})
	return p
}

func (p *lineProc) text() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.out, "\n")
}

func (p *lineProc) count(s string) int { return strings.Count(p.text(), s) }

func (p *lineProc) waitCount(t *testing.T, s string, n int, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if p.count(s) >= n {
			return
		}
	}
	t.Fatalf("never saw %q %d times:\n%s", s, n, p.text())
}

func (p *lineProc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

// TestNatsRunSurvivesKilledWorkerAndDriver: a search on two easrun worker
// processes; one worker is killed with SIGKILL while training a job, then
// the driver is killed and resumed with --resume. The killed job is
// redelivered to the other worker, the records (every accuracy, the final
// test accuracy) equal the local evaluator's, and no network is recorded
// twice.
//
// Each step waits for the event it depends on, never for a fixed time: the
// trainings of this tiny search take milliseconds, so on a loaded machine any
// other order is possible (the killed worker finishing its job first, the
// other worker taking it, the driver dying before the redelivery).
func TestNatsRunSurvivesKilledWorkerAndDriver(t *testing.T) {
	if testing.Short() {
		t.Skip("builds easrun and runs worker processes")
	}
	bin := easrunBinary(t)
	dir := t.TempDir()
	writeNoisyIDX(t, dir)
	f := filepath.Join(dir, "dist.eas")
	// The start network's job is the one killed: 3000 epochs of the
	// smallest network take seconds, the test reacts in milliseconds.
	os.WriteFile(f, []byte(fmt.Sprintf(distExperiment, dir, 3000, 30)), 0o644)
	if _, errs, code := run(t, "run", f, "--out", filepath.Join(dir, "local"), "--workers", "1", "--plain"); code != 0 {
		t.Fatalf("local run: %s", errs)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	args := []string{f, "--evaluator", "nats", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--out", filepath.Join(dir, "nats"),
		"--ack-wait", "2s", "--plain", "--token-file", filepath.Join(dir, "run.token")}
	const long = 5 * time.Minute // generous: CI and loaded hosts are slow
	driver := startProc(t, bin, args...)
	driver.waitCount(t, "start workers with", 1, long)
	if !strings.Contains(driver.text(), "wrote the workers' token") {
		t.Errorf("no token written:\n%s", driver.text())
	}
	worker := func(id string) *lineProc {
		return startProc(t, bin, "worker", "--connect", url, "--token-file", filepath.Join(dir, "run.token"), "--id", id, "--cache", filepath.Join(dir, "cache"))
	}
	// a is the only worker, so it takes the start network's job; it is
	// killed as soon as it starts training it.
	a := worker("a")
	a.waitCount(t, "start network: training", 1, long)
	a.kill()
	<-a.done // everything a wrote has been read
	if strings.Contains(a.text(), "start network: accuracy") {
		t.Fatalf("worker a finished the start network before it was killed (the test reacts too slowly for its training time):\n%s", a.text())
	}
	// b joins now: the job a held is redelivered to it once a's lease
	// expires, while the driver still runs.
	b := worker("b")
	b.waitCount(t, "start network: training", 1, long)
	if !strings.Contains(b.text(), "(attempt 2,") {
		t.Errorf("the killed worker's job was not redelivered to b as its second delivery:\n%s", b.text())
	}
	// The driver is killed once it has recorded a network of the search.
	driver.waitCount(t, "] stage 1 episode 1 network ", 1, long)
	driver.kill()
	resumed := startProc(t, bin, append(args, "--resume")...)
	select {
	case <-resumed.done:
	case <-time.After(long):
		t.Fatalf("resumed driver did not finish:\n%s\nworker b:\n%s", resumed.text(), b.text())
	}
	if err := resumed.cmd.Wait(); err != nil {
		t.Fatalf("resumed driver: %v\n%s\nworker b:\n%s", err, resumed.text(), b.text())
	}
	want, got := records(t, filepath.Join(dir, "local", "dist", "s")), records(t, filepath.Join(dir, "nats", "dist", "s"))
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.Kind != g.Kind || w.ID != g.ID || w.Arch != g.Arch || w.ValAcc != g.ValAcc || w.TestAcc != g.TestAcc || w.Status != g.Status {
			t.Errorf("record %d:\nlocal %+v\nnats  %+v", i, w, g)
		}
	}
	accs := map[float64]bool{}
	for _, r := range want {
		accs[r.ValAcc] = true
	}
	if len(accs) < 2 {
		t.Errorf("the data set is too easy to tell networks apart: accuracies %v", accs)
	}
	if t.Failed() {
		t.Logf("driver:\n%s\nresumed:\n%s\na:\n%s\nb:\n%s", driver.text(), resumed.text(), a.text(), b.text())
	}
}

// writeNoisyIDX writes a tiny data set with textured pixels and every third
// label replaced, so accuracies differ between networks.
func writeNoisyIDX(t *testing.T, dir string) {
	datatest.WriteIDX(t, dir, datatest.Quadrants{Train: 240, Test: 60,
		Pixel: func(i, y, x int, bright bool) byte {
			if bright {
				return 120 + byte((i*13+x*y)%100)
			}
			return byte(20 + (i*7+y*3+x)%90)
		},
		Label: func(i, c int) byte {
			if i%3 == 0 {
				return byte((i / 3) % 10)
			}
			return byte(c)
		}})
}
