package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/eas-go/eas/plugins/internal/wire"
	"github.com/eas-go/eas/plugins/sdk"
)

// Builtins resolves the names of built-in transforms and controllers; the CLI
// fills it from the builtin registry (this package
// cannot import them).
type Builtins struct {
	Transform       func(name string) (sdk.Transform, bool)
	Controller      func(name string) (sdk.Controller, bool)
	TransformNames  []string
	ControllerNames []string
}

// Options configure launching and policing plugins.
type Options struct {
	// Logger receives go-plugin's log and the plugins' stderr; nil discards
	// them unless LogFile is set.
	Logger hclog.Logger
	// LogFile, when set and Logger is nil, is appended to.
	LogFile string
	// CallTimeout bounds each call (0: DefaultCallTimeout). A plugin still
	// busy at the deadline is killed and restarted.
	CallTimeout time.Duration
	// StartTimeout bounds the handshake (0: go-plugin's default of 1 minute).
	StartTimeout time.Duration
	// Builtins are the built-in plugins.
	Builtins Builtins
	// InProcess runs built-ins in this process instead of re-executing Self;
	// they are policed the same way (except that a hang leaks a goroutine).
	InProcess bool
	// Self is the command serving a built-in: Self + [kind, name]. Default:
	// os.Executable() __serve.
	Self []string
}

// DefaultCallTimeout is the per-call deadline when Options.CallTimeout is 0;
// generous because a transform on a big network moves hundreds of MB.
const DefaultCallTimeout = 10 * time.Minute

func (o Options) callTimeout() time.Duration {
	if o.CallTimeout > 0 {
		return o.CallTimeout
	}
	return DefaultCallTimeout
}

var (
	logMu    sync.Mutex
	logFiles = map[string]hclog.Logger{}
)

func (o Options) logger() hclog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	if o.LogFile != "" {
		logMu.Lock()
		defer logMu.Unlock()
		if l, ok := logFiles[o.LogFile]; ok {
			return l
		}
		f, err := os.OpenFile(o.LogFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			l := hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: f, Level: hclog.Debug})
			logFiles[o.LogFile] = l
			return l
		}
	}
	return hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: io.Discard, Level: hclog.Off})
}

// Handshake is the go-plugin handshake shared with plugins/sdk/serve.
var Handshake = plugin.HandshakeConfig{MagicCookieKey: wire.MagicCookieKey, MagicCookieValue: wire.MagicCookieValue}

// Plugin is one plugin executable (or in-process built-in) and the process
// currently running it.
type Plugin struct {
	name    string // for messages: "kernelwiden (/path/kernelwiden)"
	path    string // executable, or "builtin"
	builtin bool
	sha256  string // of the executable (third-party plugins only)
	opts    Options
	cmd     func() *exec.Cmd // nil for in-process

	// in-process built-ins: constructors, so a "restart" is a fresh instance.
	newT func() sdk.Transform
	newC func() sdk.Controller

	mu       sync.Mutex
	client   *plugin.Client
	t        sdk.Transform
	c        sdk.Controller
	restarts int
	infos    []sdk.Info
}

// Launch starts the plugin executable at path and asks what it serves.
func Launch(ctx context.Context, path string, o Options) (*Plugin, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &PluginError{Plugin: path, Op: "start", Fault: FaultStart, Reason: err.Error(), Err: err}
	}
	if st, err := os.Stat(abs); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		reason := "not an executable file"
		if err != nil {
			reason = err.Error()
		}
		return nil, &PluginError{Plugin: path, Op: "start", Fault: FaultStart, Reason: reason, Err: err}
	}
	sum, err := FileSHA256(abs)
	if err != nil {
		return nil, &PluginError{Plugin: path, Op: "start", Fault: FaultStart, Reason: err.Error(), Err: err}
	}
	p := &Plugin{name: path, path: abs, sha256: sum, opts: o, cmd: func() *exec.Cmd { return exec.Command(abs) }}
	if err := p.describe(ctx); err != nil {
		p.Close()
		return nil, err
	}
	p.name = p.infos[0].Name + " (" + path + ")"
	return p, nil
}

// Builtin starts the built-in plugin kind/name (sdk.KindTransform or
// sdk.KindController), in-process or by re-executing Self.
func Builtin(ctx context.Context, kind, name string, o Options) (*Plugin, error) {
	p := &Plugin{name: name + " (built-in)", path: "builtin", builtin: true, opts: o}
	switch kind {
	case sdk.KindTransform:
		if o.Builtins.Transform == nil {
			return nil, &PluginError{Plugin: p.name, Op: "start", Fault: FaultStart, Reason: "no built-in transforms registered"}
		}
		if _, ok := o.Builtins.Transform(name); !ok {
			return nil, &PluginError{Plugin: p.name, Op: "start", Fault: FaultStart, Reason: "no such built-in transform"}
		}
		p.newT = func() sdk.Transform { t, _ := o.Builtins.Transform(name); return t }
	case sdk.KindController:
		if o.Builtins.Controller == nil {
			return nil, &PluginError{Plugin: p.name, Op: "start", Fault: FaultStart, Reason: "no built-in controllers registered"}
		}
		if _, ok := o.Builtins.Controller(name); !ok {
			return nil, &PluginError{Plugin: p.name, Op: "start", Fault: FaultStart, Reason: "no such built-in controller"}
		}
		p.newC = func() sdk.Controller { c, _ := o.Builtins.Controller(name); return c }
	default:
		return nil, &PluginError{Plugin: p.name, Op: "start", Fault: FaultStart, Reason: fmt.Sprintf("unknown plugin kind %q", kind)}
	}
	if !o.InProcess {
		self := o.Self
		if len(self) == 0 {
			exe, err := os.Executable()
			if err != nil {
				return nil, &PluginError{Plugin: p.name, Op: "start", Fault: FaultStart, Reason: err.Error(), Err: err}
			}
			self = []string{exe, "__serve"}
		}
		p.path = self[0]
		args := append(append([]string(nil), self[1:]...), kind, name)
		p.cmd = func() *exec.Cmd { return exec.Command(self[0], args...) }
		p.newT, p.newC = nil, nil
	}
	if err := p.describe(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Name is the plugin's display name (path or "name (built-in)").
func (p *Plugin) Name() string { return p.name }

// Path is the executable (easrun itself for re-executed built-ins, "builtin" in-process).
func (p *Plugin) Path() string { return p.path }

// Infos describes what the plugin serves (one entry per kind).
func (p *Plugin) Infos() []sdk.Info { return append([]sdk.Info(nil), p.infos...) }

// Restarts counts how many times the plugin was restarted after a fault.
func (p *Plugin) Restarts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.restarts
}

// Close stops the plugin process.
func (p *Plugin) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil {
		p.client.Kill()
		p.client = nil
	}
	p.t, p.c = nil, nil
}

// CleanupAll kills every plugin process still running (call before exit).
func CleanupAll() { plugin.CleanupClients() }

// describe starts the plugin and records what it serves.
func (p *Plugin) describe(ctx context.Context) error {
	for _, kind := range []string{sdk.KindTransform, sdk.KindController} {
		var info sdk.Info
		err := p.call(ctx, "describe", func(ctx context.Context, t sdk.Transform, c sdk.Controller) error {
			var err error
			switch {
			case kind == sdk.KindTransform && t != nil:
				info, err = t.Describe(ctx)
			case kind == sdk.KindController && c != nil:
				info, err = c.Describe(ctx)
			default:
				return errNotServed
			}
			return err
		})
		var pe *PluginError
		if errors.As(err, &pe) && (errors.Is(pe.Err, errNotServed) || unimplemented(pe.Err)) {
			continue
		}
		if err != nil {
			return err
		}
		if info.Kind == "" {
			info.Kind = kind
		}
		if info.Kind != kind || info.Name == "" {
			return &PluginError{Plugin: p.name, Op: "describe", Fault: FaultMalformed,
				Reason: fmt.Sprintf("its %s describes itself as kind %q, name %q", kind, info.Kind, info.Name)}
		}
		p.infos = append(p.infos, info)
	}
	if len(p.infos) == 0 {
		return &PluginError{Plugin: p.name, Op: "describe", Fault: FaultMalformed, Reason: "serves neither a transform nor a controller"}
	}
	return nil
}

// impls returns the live implementations, starting the process if needed
// (this is where a broken plugin is restarted).
func (p *Plugin) impls() (sdk.Transform, sdk.Controller, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		if p.t == nil && p.c == nil {
			if p.newT != nil {
				p.t = p.newT()
			}
			if p.newC != nil {
				p.c = p.newC()
			}
		}
		return p.t, p.c, nil
	}
	if p.client != nil && !p.client.Exited() {
		return p.t, p.c, nil
	}
	if p.client != nil {
		p.client.Kill()
		p.client = nil
	}
	logger := p.opts.logger().Named(filepath.Base(p.path))
	// go-plugin forwards the plugin's os.Stdout/os.Stderr (after Serve) over
	// its stdio stream; send both to the log, never to easrun's terminal.
	stdio := logger.StandardWriter(&hclog.StandardLoggerOptions{ForceLevel: hclog.Info})
	cl := plugin.NewClient(&plugin.ClientConfig{
		SyncStdout:      stdio,
		SyncStderr:      stdio,
		HandshakeConfig: Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{sdk.ProtocolVersion: {
			wire.PluginTransform: transformPlugin{}, wire.PluginController: controllerPlugin{}}},
		Cmd:              p.cmd(),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           logger,
		Managed:          true,
		StartTimeout:     p.opts.StartTimeout,
	})
	rpc, err := cl.Client()
	if err != nil {
		cl.Kill()
		return nil, nil, &PluginError{Plugin: p.name, Op: "start", Fault: FaultStart, Reason: err.Error(), Err: err}
	}
	if v := cl.NegotiatedVersion(); v != sdk.ProtocolVersion {
		cl.Kill()
		return nil, nil, &PluginError{Plugin: p.name, Op: "start", Fault: FaultStart,
			Reason: fmt.Sprintf("speaks protocol %d, host speaks %d", v, sdk.ProtocolVersion)}
	}
	ti, err := rpc.Dispense(wire.PluginTransform)
	if err != nil {
		cl.Kill()
		return nil, nil, &PluginError{Plugin: p.name, Op: "start", Fault: FaultStart, Reason: err.Error(), Err: err}
	}
	ci, err := rpc.Dispense(wire.PluginController)
	if err != nil {
		cl.Kill()
		return nil, nil, &PluginError{Plugin: p.name, Op: "start", Fault: FaultStart, Reason: err.Error(), Err: err}
	}
	if p.client == nil && (p.t != nil || p.c != nil || p.infos != nil) {
		p.restarts++
	}
	p.client, p.t, p.c = cl, ti.(sdk.Transform), ci.(sdk.Controller)
	return p.t, p.c, nil
}

// broken drops the current process (or in-process instance) so that the next
// call starts a fresh one. Killing happens in the background: a hung plugin
// takes go-plugin's grace period to die.
func (p *Plugin) broken() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		if p.t != nil || p.c != nil {
			p.restarts++
		}
		p.t, p.c = nil, nil
		return
	}
	if cl := p.client; cl != nil {
		go cl.Kill()
	}
	p.client = nil
}

// Transform returns the policed transform proxy, or an error when the plugin
// serves none.
func (p *Plugin) Transform() (sdk.Transform, error) {
	for _, i := range p.infos {
		if i.Kind == sdk.KindTransform {
			return &transformProxy{p: p, info: i}, nil
		}
	}
	return nil, &PluginError{Plugin: p.name, Op: "dispense", Fault: FaultError, Reason: "serves no transform"}
}

// Controller returns the policed controller proxy, or an error when the
// plugin serves none.
func (p *Plugin) Controller() (sdk.Controller, error) {
	for _, i := range p.infos {
		if i.Kind == sdk.KindController {
			return &controllerProxy{p: p, info: i}, nil
		}
	}
	return nil, &PluginError{Plugin: p.name, Op: "dispense", Fault: FaultError, Reason: "serves no controller"}
}

var errNotServed = errors.New("not served")
