package host

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/eas-go/eas/plugins/host/internal/fake"
	"github.com/eas-go/eas/plugins/sdk"
	"github.com/eas-go/eas/plugins/sdk/serve"
)

// selfEnv makes a re-executed test binary serve the fake plugins, the way
// easrun __serve serves its built-ins.
const selfEnv = "EAS_HOST_TEST_SERVE_SELF"

var (
	buildMu   sync.Mutex
	buildDir  string
	buildErr  error
	buildDone = map[string]string{}
)

func TestMain(m *testing.M) {
	if os.Getenv(selfEnv) != "" {
		if err := serve.Serve(serve.Plugins{Transform: fake.Transform{}, Controller: &fake.Controller{}}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Setenv(selfEnv, "1")
	code := m.Run()
	CleanupAll()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// fakePlugin builds testdata/fakeplugin once per test run.
func fakePlugin(t testing.TB) string { return buildTestdata(t, "fakeplugin") }

// buildTestdata builds ./testdata/name once per test run.
func buildTestdata(t testing.TB, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := buildDone[name]; ok {
		return p
	}
	if buildDir == "" && buildErr == nil {
		buildDir, buildErr = os.MkdirTemp("", "eas-host-test")
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	p := filepath.Join(buildDir, name)
	out, err := exec.Command("go", "build", "-o", p, "./testdata/"+name).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, out)
	}
	buildDone[name] = p
	return p
}

func fakeBuiltins() Builtins {
	return Builtins{
		Transform: func(n string) (sdk.Transform, bool) {
			if n == "fake" {
				return fake.Transform{}, true
			}
			return nil, false
		},
		Controller: func(n string) (sdk.Controller, bool) {
			if n == "fakectl" {
				return &fake.Controller{}, true
			}
			return nil, false
		},
		TransformNames:  []string{"fake"},
		ControllerNames: []string{"fakectl"},
	}
}

// launchMode is one way of running the fake plugins.
type launchMode struct {
	name    string
	process bool // a real subprocess (can exit)
	start   func(t testing.TB, kind string, o Options) *Plugin
}

func launchModes() []launchMode {
	name := map[string]string{sdk.KindTransform: "fake", sdk.KindController: "fakectl"}
	return []launchMode{
		{"subprocess", true, func(t testing.TB, _ string, o Options) *Plugin {
			p, err := Launch(context.Background(), fakePlugin(t), o)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{"reexec", true, func(t testing.TB, kind string, o Options) *Plugin {
			o.Builtins = fakeBuiltins()
			o.Self = []string{os.Args[0]}
			p, err := Builtin(context.Background(), kind, name[kind], o)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{"inprocess", false, func(t testing.TB, kind string, o Options) *Plugin {
			o.Builtins = fakeBuiltins()
			o.InProcess = true
			p, err := Builtin(context.Background(), kind, name[kind], o)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}},
	}
}

// testTimeout is the plugins' call deadline in these tests. The hang cases
// wait it out, so it is short, but not so short that an ordinary call under
// a fully loaded CI machine (make test runs packages in parallel) misses it.
var testTimeout = 5 * time.Second
