package cli

import (
	"strings"
	"testing"
)

// TestStatusMB: a memory line reads as MB; a missing or unreadable line is an
// error naming it, never a silent 0.
func TestStatusMB(t *testing.T) {
	const status = "Name:\teasrun\nVmHWM:\t  204800 kB\nVmRSS:\t abc kB\nVmSwap:\n"
	for _, c := range []struct {
		key     string
		want    float64
		wantErr string
	}{
		{"VmHWM:", 200, ""},
		{"VmRSS:", 0, `/proc/self/status:3: "VmRSS:\t abc kB" is not a size in kB`},
		{"VmSwap:", 0, "/proc/self/status:4: \"VmSwap:\" has no value"},
		{"VmPeak:", 0, "no VmPeak line"},
	} {
		got, err := statusMB(status, c.key)
		switch {
		case c.wantErr == "" && (err != nil || got != c.want):
			t.Errorf("%s: got %v, %v; want %v", c.key, got, err, c.want)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: got %v, %v; want an error containing %q", c.key, got, err, c.wantErr)
		}
	}
}
