package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/eas-go/eas/core/dist"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/dsl"
)

// WorkerCmd trains the children of a distributed run.
type WorkerCmd struct {
	Connect   string            `required:"" help:"NATS server of the run (nats://HOST:4222, or tls://... for a TLS server)."`
	TokenFile string            `required:"" help:"File holding the run's worker token (the driver's --token-file, by default RUN/worker.token)." type:"path"`
	TLSCA     string            `name:"tls-ca" help:"PEM CA that signed the server's certificate (for a private TLS certificate)." type:"path"`
	Slots     int               `default:"1" help:"Networks trained at once."`
	Threads   int               `help:"Engine workers per training (0: the CPUs divided by --slots). The same count as the driver's local evaluator gives bit-identical results."`
	Data      map[string]string `help:"Local copies of data sets, NAME=PATH; used only when their split has the run's fingerprint (otherwise the worker fetches the run's copy once and caches it)."`
	Cache     string            `help:"Folder caching data sets fetched from runs (default: the user cache folder, eas/data)." type:"path"`
	ID        string            `help:"Name shown in the driver's progress display (default: host-pid)."`

	EngineFlags `embed:""`
}

// Run works until interrupted; jobs in training are handed back at once.
func (c *WorkerCmd) Run(g *Globals) error {
	if c.Slots < 1 {
		return fmt.Errorf("--slots must be at least 1, got %d", c.Slots)
	}
	threads := c.Threads
	if threads <= 0 {
		threads = max(1, runtime.NumCPU()/c.Slots)
	}
	be, err := openEngine(c.EngineFlags, threads)
	if err != nil {
		return err
	}
	token, _, err := dist.ReadToken(c.TokenFile, false)
	if err != nil {
		return fmt.Errorf("--token-file: %w", err)
	}
	cache := c.Cache
	if cache == "" {
		if d, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(d, "eas", "data")
		}
	}
	for name, path := range c.Data {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("--data %s=%s: %w", name, path, err)
		}
	}
	logf := func(s string) { fmt.Fprintf(g.Stderr, "%s %s\n", time.Now().Format("15:04:05"), s) }
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	nc, err := dist.Connect(dist.ClientConfig{URL: c.Connect, User: dist.WorkerUser, Password: token, CAFile: c.TLSCA, Name: "easrun worker",
		Wait: true, Ctx: ctx, Log: logf})
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while waiting for the server
		}
		return err
	}
	// Closing hands back whatever is still unacknowledged; with the server
	// gone, Close must not wait for a flush.
	defer nc.Close()
	logf(fmt.Sprintf("engine: %s, %d slots", be.Describe(), c.Slots))
	w := &dist.Worker{NC: nc, ID: c.ID, Slots: c.Slots, Backend: be, Threads: threads, Data: c.Data, CacheDir: cache, Log: logf,
		ParseArch: parseArch}
	return w.Run(ctx)
}

// parseArch reads an architecture string with the DSL, for core/dist (which
// does not import the DSL).
func parseArch(name, src string) (ir.Arch, error) {
	a, l := dsl.ParseArch(name, src)
	return a, l.Err()
}
