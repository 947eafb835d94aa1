package dist

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ServerConfig configures the embedded server of `easrun run --evaluator nats`.
type ServerConfig struct {
	Listen   string // host:port; port 0 picks a free one
	StoreDir string // JetStream store (inside the run directory)
	// Token is the workers' password (user WorkerUser); "" makes a random
	// one (Server.Token): a server always asks for credentials.
	Token    string
	Insecure bool   // allow listening beyond loopback without TLS
	TLSCert  string // PEM certificate and key: clients must use TLS
	TLSKey   string
	Log      io.Writer // server warnings and errors (nil: discarded)
}

// Server is an embedded nats-server with JetStream.
type Server struct {
	ns  *server.Server
	cfg ServerConfig
	// Token is the workers' token; driverPass the driver's password.
	Token      string
	driverPass string
	// URL is what workers pass to --connect.
	URL string
}

// IsLoopback reports whether host only accepts connections from this machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// StartServer starts the embedded server. It refuses to listen beyond
// loopback without a token unless cfg.Insecure is set.
func StartServer(cfg ServerConfig) (*Server, error) {
	host, ps, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: %v (want HOST:PORT, e.g. 0.0.0.0:4222)", cfg.Listen, err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("--listen %q: bad port %q", cfg.Listen, ps)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("TLS needs both --tls-cert and --tls-key")
	}
	if !IsLoopback(host) && cfg.TLSCert == "" {
		if !cfg.Insecure {
			return nil, fmt.Errorf("--listen %s accepts connections from other machines: give --tls-cert and --tls-key (workers then use --tls-ca), or --insecure to send everything in clear", cfg.Listen)
		}
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "warning: --insecure: without TLS, the workers' token, the jobs (architectures, training settings), the start and trained weights, the data set and the results travel in clear on %s\n", cfg.Listen)
		}
	}
	if cfg.Token == "" {
		cfg.Token = randomToken()
	}
	driverPass := randomToken()
	if err := os.MkdirAll(cfg.StoreDir, 0o700); err != nil {
		return nil, err
	}
	opts := &server.Options{
		ServerName: "eas-driver",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		Users:      roleUsers(cfg.Token, driverPass),
		NoSigs:     true,
		MaxPayload: MaxMessage + 64<<10, // object chunks are 128 kB; job messages are capped below
		// Workers are expected to come and go: keep the TCP keepalive short
		// so a vanished machine's connection is noticed.
		PingInterval: 10 * time.Second,
		MaxPingsOut:  3,
	}
	if cfg.TLSCert != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey})
		if err != nil {
			return nil, fmt.Errorf("TLS: %w", err)
		}
		opts.TLS, opts.TLSConfig, opts.TLSTimeout = true, tc, 5
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("starting the NATS server: %w", err)
	}
	if cfg.Log != nil {
		ns.SetLoggerV2(&srvLog{cfg.Log}, false, false, false)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("the NATS server on %s did not start within 10 s (port in use?)", cfg.Listen)
	}
	s := &Server{ns: ns, cfg: cfg, Token: cfg.Token, driverPass: driverPass}
	addr := ns.Addr().(*net.TCPAddr)
	scheme, h := "nats", host
	if cfg.TLSCert != "" {
		scheme = "tls"
	}
	if h == "" || h == "0.0.0.0" || h == "::" {
		if hn, err := os.Hostname(); err == nil {
			h = hn
		}
	}
	s.URL = fmt.Sprintf("%s://%s", scheme, net.JoinHostPort(h, strconv.Itoa(addr.Port)))
	return s, nil
}

// Connect opens the driver's own connection: over loopback TCP, measured
// 4-8x faster than an in-process pipe for megabytes of weights; in-process
// when the server requires TLS (its certificate need not name loopback).
func (s *Server) Connect(name string) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.UserInfo(driverUser, s.driverPass), nats.CustomInboxPrefix(driverInbox), nats.MaxReconnects(-1)}
	if s.cfg.TLSCert != "" {
		return nats.Connect("", append(opts, nats.InProcessServer(s.ns))...)
	}
	addr := s.ns.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return nats.Connect("nats://"+net.JoinHostPort(host, strconv.Itoa(addr.Port)), opts...)
}

// Shutdown stops the server and waits for it.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

type srvLog struct{ w io.Writer }

func (l *srvLog) Noticef(string, ...any) {}
func (l *srvLog) Debugf(string, ...any)  {}
func (l *srvLog) Tracef(string, ...any)  {}
func (l *srvLog) Warnf(f string, a ...any) {
	fmt.Fprintf(l.w, "nats: warning: "+f+"\n", a...)
}
func (l *srvLog) Errorf(f string, a ...any) { fmt.Fprintf(l.w, "nats: error: "+f+"\n", a...) }
func (l *srvLog) Fatalf(f string, a ...any) { fmt.Fprintf(l.w, "nats: fatal: "+f+"\n", a...) }

// ClientConfig says how a worker (or a driver with --connect) reaches a server.
type ClientConfig struct {
	URL    string
	Token  string
	CAFile string // PEM CA for a TLS server with a private certificate
	Name   string
	// User and Password are a role's credentials (see Roles) instead of a
	// token; InboxPrefix keeps the driver's replies apart from workers'.
	User, Password, InboxPrefix string
	// Wait keeps retrying the first connection (a worker started before
	// its driver) until Ctx ends; otherwise a failed first connection is an
	// error.
	Wait bool
	Ctx  context.Context
	// Log, if set, hears of lost and regained connections.
	Log func(string)
}

// ErrAuth is a server's refusal of the credentials presented.
var ErrAuth = errors.New("authorization failed")

// Connect dials the server, reconnecting forever after losing it. With
// Wait it retries an unreachable server until Ctx ends; refused
// credentials are an error at once (ErrAuth), whatever Wait says.
func Connect(c ClientConfig) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(c.Name), nats.MaxReconnects(-1), nats.ReconnectWait(500 * time.Millisecond),
		nats.PingInterval(10 * time.Second), nats.Timeout(5 * time.Second)}
	if c.Token != "" {
		opts = append(opts, nats.Token(c.Token))
	}
	if c.User != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(c.InboxPrefix))
	}
	if c.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.CAFile))
	}
	if c.Log != nil {
		opts = append(opts,
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				if err != nil {
					c.Log(fmt.Sprintf("lost the connection to %s (%v); reconnecting", c.URL, err))
				}
			}),
			nats.ReconnectHandler(func(nc *nats.Conn) { c.Log("reconnected to " + nc.ConnectedUrlRedacted()) }))
	}
	ctx := c.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	for waited := false; ; waited = true {
		nc, err := nats.Connect(c.URL, opts...)
		if err == nil {
			return nc, nil
		}
		if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || strings.Contains(strings.ToLower(err.Error()), "authorization") {
			return nil, fmt.Errorf("connecting to %s: %w: the server refused these credentials (check --token-file / --creds against the driver's)", c.URL, ErrAuth)
		}
		if !c.Wait {
			return nil, fmt.Errorf("connecting to %s: %w", c.URL, err)
		}
		if !waited && c.Log != nil {
			c.Log(fmt.Sprintf("waiting for the server at %s (%v)", c.URL, err))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connecting to %s: %w", c.URL, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// ReadToken reads a token file, creating one with a random token (mode
// 0600) when create is set and the file does not exist.
func ReadToken(path string, create bool) (tok string, created bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && create {
		tok = randomToken()
		if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
			return "", false, err
		}
		return tok, true, nil
	}
	if err != nil {
		return "", false, err
	}
	tok = strings.TrimSpace(string(b))
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", false, fmt.Errorf("%s: the token must be one non-empty word", path)
	}
	return tok, false, nil
}
