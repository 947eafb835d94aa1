package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/dist"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/pipeline"
	"github.com/eas-go/eas/core/store"
)

// NatsFlags are easrun run's options for --evaluator nats.
type NatsFlags struct {
	Listen         string        `default:"127.0.0.1:4222" help:"--evaluator nats: address of the embedded NATS server workers connect to (HOST:PORT; beyond loopback it needs --tls-cert/--tls-key or --insecure)."`
	Connect        string        `help:"--evaluator nats: use this NATS server or cluster (nats://HOST:4222) instead of starting one."`
	TokenFile      string        `help:"--evaluator nats: file holding the workers' token (default RUN/worker.token; created with a random token when missing; copy it to the workers)." type:"path"`
	Insecure       bool          `help:"--evaluator nats: allow a server listening beyond loopback without TLS (everything travels in clear)."`
	TLSCert        string        `name:"tls-cert" help:"--evaluator nats: PEM certificate for the embedded server (workers then connect with tls:// and --tls-ca)." type:"path"`
	TLSKey         string        `name:"tls-key" help:"--evaluator nats: PEM key of --tls-cert." type:"path"`
	TLSCA          string        `name:"tls-ca" help:"--evaluator nats with --connect: PEM CA of a TLS server with a private certificate." type:"path"`
	AckWait        time.Duration `default:"30s" help:"--evaluator nats: a worker silent this long loses its job to another (workers acknowledge progress every quarter of it)."`
	Attempts       int           `default:"3" help:"--evaluator nats: training attempts of a job before it is recorded as failed (refusals do not count)."`
	JobTimeout     time.Duration `default:"24h" help:"--evaluator nats: time limit of one training attempt; a longer one is recorded as failed (0: none)."`
	CheckImages    int           `default:"1000" help:"--evaluator nats: the driver re-scores returned weights on the first N images of the validation (or test) set (-1: no check)."`
	CheckTolerance float64       `default:"0.02" help:"--evaluator nats: largest accepted difference between a worker's and the driver's accuracy on the check images."`
	WorkerEngine   string        `help:"--evaluator nats: engine the workers must run (e.g. cpu); workers running another refuse the jobs with the reason (default: any)."`
}

// splitOptions is how the experiment divides its data set.
func splitOptions(d experiment.Dataset) data.SplitOptions {
	return data.SplitOptions{Validation: d.Validation, Seed: d.ValidationSeed, Limit: d.Limit, Normalize: d.Normalize, Augment: d.Augment}
}

// The NATS evaluator, chosen with --evaluator nats; its flags are the run
// command's NatsFlags.
func init() {
	pipeline.RegisterEvaluator(pipeline.EvaluatorKind{Name: "nats", Help: "train on easrun workers through NATS JetStream",
		New: func(ctx context.Context, env pipeline.EvaluatorEnv) (pipeline.Evaluation, error) {
			c, ok := env.Settings.(*RunCmd)
			log, ok2 := env.Log.(*logger)
			if !ok || !ok2 {
				return pipeline.Evaluation{}, fmt.Errorf("the nats evaluator needs easrun run's flags and log")
			}
			n, err := startNats(ctx, c.NatsFlags, env.Dir, env.Exp, env.Data, log)
			if err != nil {
				return pipeline.Evaluation{}, err
			}
			return pipeline.Evaluation{Eval: n.ev, TrainsStart: true, Close: n.Close}, nil
		}})
}

// natsRun is the distributed evaluator with its server and connection.
type natsRun struct {
	ev      *dist.Evaluator
	nc      *nats.Conn
	srv     *dist.Server
	journal *os.File
}

func (n *natsRun) Close() {
	n.ev.Close()
	n.nc.Close()
	if n.journal != nil {
		n.journal.Close()
	}
	if n.srv != nil {
		n.srv.Shutdown()
	}
}

// startNats starts (or connects to) the server and creates the evaluator.
// The embedded server's store lives in expDir/nats, so --resume reattaches.
func startNats(ctx context.Context, f NatsFlags, expDir string, e *experiment.Experiment, split *data.Split, log *logger) (*natsRun, error) {
	if f.TokenFile == "" {
		f.TokenFile = filepath.Join(expDir, "worker.token")
	}
	token, created, err := dist.ReadToken(f.TokenFile, f.Connect == "")
	if err != nil {
		return nil, fmt.Errorf("--token-file: %w", err)
	}
	if created {
		log.printf("wrote the workers' token to %s: copy it to the workers", f.TokenFile)
	}
	n := &natsRun{}
	hint, err := n.connect(f, expDir, token, log)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*natsRun, error) {
		n.nc.Close()
		if n.srv != nil {
			n.srv.Shutdown()
		}
		if n.journal != nil {
			n.journal.Close()
		}
		return nil, err
	}
	hint += " --token-file " + f.TokenFile
	if f.TLSCert != "" {
		hint += " --tls-ca CA.pem"
	}
	if n.journal, err = os.OpenFile(filepath.Join(expDir, "dist-results.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
		return fail(err)
	}
	be, err := openEngine(EngineFlags{}, runtime.NumCPU())
	if err != nil {
		return fail(err)
	}
	opt := dist.Options{Settings: dist.Settings{AckWait: f.AckWait, Attempts: f.Attempts, JobTimeout: f.JobTimeout}, ConnectHint: hint,
		StatusEvery: 2 * time.Second, OnMessage: func(s string) { log.printf("%s", s) }, Journal: n.journal, Backend: be,
		CheckImages: f.CheckImages, CheckTolerance: f.CheckTolerance, Engine: f.WorkerEngine}
	var last string
	var lastAt time.Time
	opt.OnStatus = func(st dist.Status) {
		writeDistStatus(expDir, st)
		s := st.String()
		if s != last && time.Since(lastAt) > 10*time.Second || time.Since(lastAt) > time.Minute {
			last, lastAt = s, time.Now()
			log.printf("%s", s)
		}
	}
	if split != nil {
		opt.Data, opt.DataName, opt.DataKind, opt.Split = split, e.Dataset.Name, e.Dataset.Kind, dist.SpecOf(splitOptions(e.Dataset))
	}
	if n.ev, err = dist.NewEvaluator(ctx, n.nc, opt); err != nil {
		return fail(err)
	}
	log.printf("evaluator: NATS JetStream; start workers with: easrun worker %s%s", hint, dataHint(e, split))
	return n, nil
}

// connect starts the embedded server (store in expDir/nats, so --resume
// reattaches) or connects to --connect's; it returns the workers' flags.
func (n *natsRun) connect(f NatsFlags, expDir, token string, log *logger) (string, error) {
	if f.Connect != "" {
		nc, err := dist.Connect(dist.ClientConfig{URL: f.Connect, Token: token, CAFile: f.TLSCA, Name: "easrun driver"})
		if err != nil {
			return "", err
		}
		n.nc = nc
		log.printf("using the NATS server at %s", f.Connect)
		return "--connect " + f.Connect, nil
	}
	srv, err := dist.StartServer(dist.ServerConfig{Listen: f.Listen, StoreDir: filepath.Join(expDir, "nats"), Token: token,
		Insecure: f.Insecure, TLSCert: f.TLSCert, TLSKey: f.TLSKey, Log: log.w})
	if err != nil {
		return "", err
	}
	n.srv = srv
	if n.nc, err = srv.Connect("easrun driver"); err != nil {
		srv.Shutdown()
		return "", err
	}
	if err := store.WriteFileAtomic(filepath.Join(expDir, "nats.url"), []byte(srv.URL+"\n")); err != nil {
		n.nc.Close()
		srv.Shutdown()
		return "", err
	}
	log.printf("NATS server listening on %s (JetStream store %s)", srv.URL, filepath.Join(expDir, "nats"))
	return "--connect " + srv.URL, nil
}

func dataHint(e *experiment.Experiment, split *data.Split) string {
	if split == nil {
		return ""
	}
	return fmt.Sprintf(" [--data %s=PATH]", strings.ToLower(e.Dataset.Name))
}
