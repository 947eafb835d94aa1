package engine

import (
	"strings"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/core/tensor"
)

type nopBackend struct{ o Options }

func (nopBackend) Name() string                 { return "nop" }
func (nopBackend) Describe() string             { return "nothing" }
func (nopBackend) Memory(*ir.Graph, int) Memory { return Memory{} }
func (nopBackend) Build(*ir.Graph, tensor.Map, ModelConfig) (Model, error) {
	return nil, nil
}

func TestRegistry(t *testing.T) {
	var got Options
	Register("test-nop", func(o Options) (Backend, error) { got = o; return nopBackend{o}, nil })
	b, err := Open("test-nop", Options{Workers: 3, Device: "cuda", Settings: "x"})
	if err != nil || b.Name() != "nop" || got.Workers != 3 || got.Device != "cuda" || got.Settings != "x" {
		t.Fatalf("Open = %v, %v; factory saw %+v", b, err, got)
	}
	if _, err := Open("no-such", Options{}); err == nil || !strings.Contains(err.Error(), `unknown backend "no-such"`) ||
		!strings.Contains(err.Error(), "test-nop") {
		t.Errorf("unknown name: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a name twice did not panic")
		}
	}()
	Register("test-nop", func(Options) (Backend, error) { return nil, nil })
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{}, ""},
		{Options{Workers: 4, NoFusion: true, Device: "cuda:1"}, ""},
		{Options{Workers: -1}, "worker count"},
	} {
		err := tc.o.Validate()
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
}
