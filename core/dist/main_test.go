package dist

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/eas-go/eas/core/engine"
)

// The test binary doubles as a worker process (EAS_DIST_TEST_WORKER=URL),
// so the tests kill real processes without building easrun.
func TestMain(m *testing.M) {
	if url := os.Getenv("EAS_DIST_TEST_WORKER"); url != "" {
		os.Exit(testWorkerMain(url))
	}
	os.Exit(m.Run())
}

func testWorkerMain(url string) int {
	tok := os.Getenv("EAS_DIST_TEST_TOKEN")
	if tok == "" {
		tok = testToken
	}
	nc, err := Connect(ClientConfig{URL: url, User: WorkerUser, Password: tok, CAFile: os.Getenv("EAS_DIST_TEST_CA"), Wait: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer nc.Close()
	slots, _ := strconv.Atoi(os.Getenv("EAS_DIST_TEST_SLOTS"))
	th, _ := strconv.Atoi(os.Getenv("EAS_DIST_TEST_THREADS"))
	be, err := engine.Open(engine.Default, engine.Options{Workers: th})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	w := &Worker{NC: nc, ID: os.Getenv("EAS_DIST_TEST_ID"), Slots: slots, Backend: be, Threads: th, CacheDir: os.Getenv("EAS_DIST_TEST_CACHE"),
		ParseArch: parseArch, Log: func(s string) { fmt.Fprintln(os.Stdout, s) }}
	if d, err := time.ParseDuration(os.Getenv("EAS_DIST_TEST_UPLOAD_DELAY")); err == nil {
		w.uploadDelay = d
	}
	if d, err := time.ParseDuration(os.Getenv("EAS_DIST_TEST_EPOCH_DELAY")); err == nil {
		w.epochDelay = d
	}
	if d, err := time.ParseDuration(os.Getenv("EAS_DIST_TEST_CKPT_EVERY")); err == nil {
		w.CheckpointEvery = d
	}
	w.MemoryLimit, _ = strconv.ParseInt(os.Getenv("EAS_DIST_TEST_MEMORY"), 10, 64)
	if d := os.Getenv("EAS_DIST_TEST_DATA"); d != "" {
		name, path, _ := strings.Cut(d, "=")
		w.Data = map[string]string{name: path}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := w.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// testToken is the workers' token of test runs.
const testToken = "test-token"

// proc is a worker process whose output lines are collected.
type proc struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	seen  chan string
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// waitFor blocks until a line containing s appears.
func (p *proc) waitFor(t *testing.T, s string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		if strings.Contains(p.output(), s) {
			return
		}
		select {
		case <-p.seen:
		case <-deadline:
			t.Fatalf("worker never printed %q; output:\n%s", s, p.output())
		}
	}
}

func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

func startWorker(t testing.TB, url string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{"EAS_DIST_TEST_WORKER=" + url}, env...)...)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, seen: make(chan string, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			select {
			case p.seen <- sc.Text():
			default:
			}
		}
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("worker %d output:\n%s", cmd.Process.Pid, p.output())
		}
	})
	return p
}

// freePort returns a port free on 127.0.0.1 (for a server restarted on it).
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type testRun struct {
	srv *Server
	nc  *nats.Conn
	ev  *Evaluator
	dir string
}

func startRun(t testing.TB, dir string, port int, opt Options) *testRun {
	t.Helper()
	srv, err := StartServer(ServerConfig{Listen: fmt.Sprintf("127.0.0.1:%d", port), StoreDir: filepath.Join(dir, "nats"), Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := srv.Connect("test driver")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if opt.StatusEvery == 0 {
		opt.StatusEvery = 200 * time.Millisecond
	}
	ev, err := NewEvaluator(ctx, nc, opt)
	if err != nil {
		t.Fatal(err)
	}
	r := &testRun{srv: srv, nc: nc, ev: ev, dir: dir}
	t.Cleanup(r.stop)
	return r
}

func (r *testRun) stop() {
	if r.srv == nil {
		return
	}
	r.ev.Close()
	r.nc.Close()
	r.srv.Shutdown()
	r.srv = nil
}
