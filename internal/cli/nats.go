package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/eas-go/eas/core/data"
	"github.com/eas-go/eas/core/dist"
	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/store"
)

// NatsFlags are easrun run's options for --evaluator nats.
type NatsFlags struct {
	Listen    string        `default:"127.0.0.1:4222" help:"--evaluator nats: address of the embedded NATS server workers connect to (HOST:PORT; beyond loopback it needs --token-file or --insecure)."`
	Connect   string        `help:"--evaluator nats: use this NATS server or cluster (nats://HOST:4222) instead of starting one."`
	TokenFile string        `help:"--evaluator nats: file holding the token workers must present (created with a random token when missing; copy it to the workers)." type:"path"`
	Insecure  bool          `help:"--evaluator nats: allow a server listening beyond loopback without a token."`
	TLSCert   string        `name:"tls-cert" help:"--evaluator nats: PEM certificate for the embedded server (workers then connect with tls:// and --tls-ca)." type:"path"`
	TLSKey    string        `name:"tls-key" help:"--evaluator nats: PEM key of --tls-cert." type:"path"`
	TLSCA     string        `name:"tls-ca" help:"--evaluator nats with --connect: PEM CA of a TLS server with a private certificate." type:"path"`
	AckWait   time.Duration `default:"30s" help:"--evaluator nats: a worker silent this long loses its job to another (workers acknowledge progress every quarter of it)."`
	Attempts  int           `default:"3" help:"--evaluator nats: deliveries of a job before it is recorded as failed."`
}

// splitOptions is how the experiment divides its data set.
func splitOptions(d experiment.Dataset) data.SplitOptions {
	return data.SplitOptions{Validation: d.Validation, Seed: d.ValidationSeed, Limit: d.Limit, Normalize: d.Normalize, Augment: d.Augment}
}

// natsRun is the distributed evaluator with its server and connection.
type natsRun struct {
	ev  *dist.Evaluator
	nc  *nats.Conn
	srv *dist.Server
}

func (n *natsRun) Close() {
	n.ev.Close()
	n.nc.Close()
	if n.srv != nil {
		n.srv.Shutdown()
	}
}

// startNats starts (or connects to) the server and creates the evaluator.
// The embedded server's store lives in expDir/nats, so --resume reattaches.
func startNats(ctx context.Context, f NatsFlags, expDir string, e *experiment.Experiment, split *data.Split, log *logger) (*natsRun, error) {
	n := &natsRun{}
	token := ""
	if f.TokenFile != "" {
		tok, created, err := dist.ReadToken(f.TokenFile, f.Connect == "")
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		if created {
			log.printf("wrote a new token to %s: copy it to the workers", f.TokenFile)
		}
		token = tok
	}
	var hint string
	if f.Connect == "" {
		srv, err := dist.StartServer(dist.ServerConfig{Listen: f.Listen, StoreDir: filepath.Join(expDir, "nats"), Token: token,
			Insecure: f.Insecure, TLSCert: f.TLSCert, TLSKey: f.TLSKey, Log: log.w})
		if err != nil {
			return nil, err
		}
		n.srv = srv
		if n.nc, err = srv.Connect("easrun driver"); err != nil {
			srv.Shutdown()
			return nil, err
		}
		if err := store.WriteFileAtomic(filepath.Join(expDir, "nats.url"), []byte(srv.URL+"\n")); err != nil {
			n.nc.Close()
			srv.Shutdown()
			return nil, err
		}
		hint = "--connect " + srv.URL
		log.printf("NATS server listening on %s (JetStream store %s)", srv.URL, filepath.Join(expDir, "nats"))
	} else {
		nc, err := dist.Connect(dist.ClientConfig{URL: f.Connect, Token: token, CAFile: f.TLSCA, Name: "easrun driver"})
		if err != nil {
			return nil, err
		}
		n.nc, hint = nc, "--connect "+f.Connect
		log.printf("using the NATS server at %s", f.Connect)
	}
	if f.TokenFile != "" {
		hint += " --token-file " + f.TokenFile
	}
	if f.TLSCert != "" {
		hint += " --tls-ca CA.pem"
	}
	opt := dist.Options{Settings: dist.Settings{AckWait: f.AckWait, Attempts: f.Attempts}, ConnectHint: hint,
		StatusEvery: 2 * time.Second, OnMessage: func(s string) { log.printf("%s", s) }}
	var last string
	var lastAt time.Time
	opt.OnStatus = func(st dist.Status) {
		s := st.String()
		if s != last && time.Since(lastAt) > 10*time.Second || time.Since(lastAt) > time.Minute {
			last, lastAt = s, time.Now()
			log.printf("%s", s)
		}
	}
	if split != nil {
		opt.Data, opt.DataName, opt.DataKind, opt.Split = split, e.Dataset.Name, e.Dataset.Kind, dist.SpecOf(splitOptions(e.Dataset))
	}
	ev, err := dist.NewEvaluator(ctx, n.nc, opt)
	if err != nil {
		n.nc.Close()
		if n.srv != nil {
			n.srv.Shutdown()
		}
		return nil, err
	}
	n.ev = ev
	log.printf("evaluator: NATS JetStream; start workers with: easrun worker %s%s", hint, dataHint(e, split))
	return n, nil
}

func dataHint(e *experiment.Experiment, split *data.Split) string {
	if split == nil {
		return ""
	}
	return fmt.Sprintf(" [--data %s=PATH]", strings.ToLower(e.Dataset.Name))
}
