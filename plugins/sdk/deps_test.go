package sdk_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestNoRPCInTypes: the SDK is types only. Importing it (as the search core
// does) must not pull in gRPC, protobuf or go-plugin; those belong to
// plugins/sdk/serve and plugins/host.
func TestNoRPCInTypes(t *testing.T) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := exec.LookPath(goBin); err != nil {
		t.Skipf("no go command at %s: %v", goBin, err)
	}
	forbidden := []string{"google.golang.org/grpc", "google.golang.org/protobuf", "github.com/hashicorp/go-plugin", "plugins/internal/wire"}
	for _, pkg := range []string{"github.com/eas-go/eas/plugins/sdk", "github.com/eas-go/eas/core/search"} {
		out, err := exec.Command(goBin, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range forbidden {
				if strings.Contains(dep, f) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
