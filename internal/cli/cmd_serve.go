package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/eas-go/eas/core/checkpoint"
	"github.com/eas-go/eas/core/dashboard"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/dsl"
)

// DashboardCmd is `easrun serve`: the live, read-only web dashboard.
type DashboardCmd struct {
	Dirs           []string `arg:"" optional:"" type:"existingdir" help:"Run directories to serve (runs/<experiment>); default: every run under --runs."`
	Runs           string   `help:"Folder whose subfolders are runs (rescanned: new runs appear); default runs when no directory is given." type:"path"`
	Listen         string   `default:"127.0.0.1:8080" help:"Address of the dashboard (HOST:PORT; beyond loopback it needs --token-file or --insecure)."`
	DashboardFlags `embed:""`
}

// DashboardFlags are the dashboard's options besides the address, shared
// with run's --serve (there prefixed dashboard-).
type DashboardFlags struct {
	TokenFile string `help:"File holding the token browsers must present (created with a random token when missing); required beyond loopback." type:"path"`
	Insecure  bool   `help:"Serve beyond loopback without a token (anyone who can reach the port reads the runs)."`
	TLSCert   string `name:"tls-cert" help:"PEM certificate: serve https." type:"path"`
	TLSKey    string `name:"tls-key" help:"PEM key of the TLS certificate." type:"path"`
	Cache     string `help:"Folder for PyTorch exports made on request (default: the user's cache folder, eas-dashboard); never inside a run." type:"path"`
}

// Run serves until interrupted.
func (c *DashboardCmd) Run(g *Globals) error {
	opt := dashboard.Options{Runs: c.Dirs}
	if c.Runs != "" || len(c.Dirs) == 0 {
		root := c.Runs
		if root == "" {
			root = "runs"
		}
		opt.Roots = []string{root}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return c.DashboardFlags.serve(ctx, g, c.Listen, opt, nil)
}

// serve starts the dashboard and blocks until ctx ends; ready, when not
// nil, receives the URL once it listens.
func (n DashboardFlags) serve(ctx context.Context, g *Globals, listen string, opt dashboard.Options, ready chan<- string) error {
	if err := n.check(listen, n.TokenFile != ""); err != nil {
		return err
	}
	if n.TokenFile != "" {
		tok, created, err := dashboardToken(n.TokenFile)
		if err != nil {
			return err
		}
		if created {
			fmt.Fprintf(g.Stderr, "wrote a new dashboard token to %s\n", n.TokenFile)
		}
		opt.Token = tok
	}
	if !dashboard.IsLoopback(listen) && n.TLSCert == "" {
		fmt.Fprintf(g.Stderr, "warning: serving %s without TLS: pages and the token travel in clear (give a TLS certificate and key)\n", listen)
	}
	opt.CacheDir, opt.Log = n.Cache, g.Stderr
	opt.Experiment, opt.Layers, opt.Export = parseRunExperiment, runLayerTable, exportTo
	srv, err := dashboard.New(opt)
	if err != nil {
		return err
	}
	defer srv.Close()
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	scheme := "http"
	if n.TLSCert != "" {
		scheme = "https"
	}
	url := fmt.Sprintf("%s://%s/", scheme, l.Addr())
	if opt.Token != "" {
		url += "?token=" + opt.Token
	}
	fmt.Fprintf(g.Stdout, "dashboard: %s (read-only; Ctrl-C stops it)\n", url)
	if ready != nil {
		ready <- url
	}
	return srv.Serve(ctx, l, n.TLSCert, n.TLSKey)
}

// dashboardToken reads the token file, or creates it (mode 0600).
func dashboardToken(path string) (tok string, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		tok = strings.TrimSpace(string(b))
		if len(tok) < 16 {
			return "", false, fmt.Errorf("%s: the token is shorter than 16 characters", path)
		}
		return tok, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", false, err
	}
	r := make([]byte, 24)
	if _, err := rand.Read(r); err != nil {
		return "", false, err
	}
	tok = hex.EncodeToString(r)
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", false, err
	}
	return tok, true, nil
}

func parseRunExperiment(path string) (*experiment.Experiment, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	e, l := dsl.ParseExperiment(path, src, knownNamesRun())
	if l.HasErrors() {
		return nil, l.Err()
	}
	return e, nil
}

// runLayerTable is `easrun check ARCH` for a network of a run: the input
// shape and batch come from the run's experiment (or its start network).
func runLayerTable(runDir, arch string) (string, error) {
	in, batch := ir.Shape{}, 64
	if e, err := parseRunExperiment(filepath.Join(runDir, "experiment.eas")); err == nil {
		in, batch = e.Start.Input, max(e.Child.Batch, 1)
	}
	if in == (ir.Shape{}) {
		ck, err := checkpoint.Load(filepath.Join(runDir, "start.safetensors"))
		if err != nil {
			return "", fmt.Errorf("input shape unknown: neither the run's experiment.eas nor its start network gives it")
		}
		in = ck.Input
	}
	a, l := dsl.ValidateArch("arch", arch, in)
	var out bytes.Buffer
	if l.HasErrors() {
		return "", l.Err()
	}
	g := &Globals{Stdout: &out, Stderr: &out}
	if err := layerTable(g, a, in, batch); err != nil {
		return "", err
	}
	return out.String(), nil
}

func exportTo(ckpt, dir string) error {
	var msg bytes.Buffer
	err := (&ExportCmd{Checkpoint: ckpt, Out: dir, Format: "pytorch"}).Run(&Globals{Stdout: io.Discard, Stderr: &msg})
	if err != nil && msg.Len() > 0 {
		return fmt.Errorf("%w (%s)", err, strings.TrimSpace(msg.String()))
	}
	return err
}

// RunServeFlags are run's --serve: the dashboard of the run, served by the
// process that runs it, until the run ends.
type RunServeFlags struct {
	Serve     string         `placeholder:"HOST:PORT" help:"Serve the live dashboard of this run at this address while it runs (127.0.0.1:8080; see easrun serve)."`
	Dashboard DashboardFlags `embed:"" prefix:"dashboard-"`
}

// serveDashboard starts the dashboard of expDir when --serve is given; the
// returned stop ends it (and waits for it).
func (f RunServeFlags) serveDashboard(ctx context.Context, g *Globals, expDir string) (stop func(), err error) {
	if f.Serve == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(expDir, 0o755); err != nil { // the run makes it anyway; the dashboard only reads
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- f.Dashboard.serve(ctx, g, f.Serve, dashboard.Options{Runs: []string{expDir}}, ready) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("--serve: %w", err)
	}
	return func() {
		cancel()
		<-done
	}, nil
}

// Validate refuses a --serve that would fail, before the run touches its
// folder (kong calls it once the flags are parsed).
func (f RunServeFlags) Validate() error {
	if f.Serve == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(f.Serve); err != nil {
		return fmt.Errorf("--serve %s: %v (expected HOST:PORT, e.g. 127.0.0.1:8080)", f.Serve, err)
	}
	return f.Dashboard.check(f.Serve, f.Dashboard.TokenFile != "")
}

// check is the listening rule: beyond loopback, a token or the insecure
// flag; certificate and key together.
func (n DashboardFlags) check(listen string, token bool) error {
	if (n.TLSCert == "") != (n.TLSKey == "") {
		return errors.New("the TLS certificate and key go together")
	}
	if !dashboard.IsLoopback(listen) && !token && !n.Insecure {
		return fmt.Errorf("--listen %s reaches beyond loopback: give a token file (browsers then need the token), or the insecure flag to let anyone who reaches the port read the runs", listen)
	}
	return nil
}
