package host

import (
	"strings"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/plugins/sdk"
)

// TestCheckResultDiagnostics: diagnostics are bounded and well-formed, or
// the answer is malformed.
func TestCheckResultDiagnostics(t *testing.T) {
	net := sdk.Network{Arch: ir.Arch{Layers: []ir.Layer{{Kind: ir.FC, Units: 4}, {Kind: ir.Softmax, Units: 2}}}, Input: ir.Shape{C: 1, H: 1, W: 3}}
	warn := sdk.Diagnostic{Severity: sdk.SeverityWarning, Summary: "w"}
	many := make([]sdk.Diagnostic, maxDiagnostics+1)
	for i := range many {
		many[i] = warn
	}
	cases := []struct {
		name  string
		diags []sdk.Diagnostic
		want  string
	}{
		{"fine", []sdk.Diagnostic{warn, {Severity: sdk.SeverityInfo, Summary: "i", Detail: "d"}}, ""},
		{"too many", many, "diagnostics, at most"},
		{"no severity", []sdk.Diagnostic{{Summary: "x"}}, "neither info nor warning"},
		{"empty summary", []sdk.Diagnostic{{Severity: sdk.SeverityInfo}}, "non-empty"},
		{"huge", []sdk.Diagnostic{{Severity: sdk.SeverityInfo, Summary: "x", Detail: strings.Repeat("d", maxDiagnosticBytes)}}, "at most"},
	}
	for _, c := range cases {
		got := checkResult(sdk.ApplyRequest{Net: net}, sdk.ApplyResult{Net: net, Diagnostics: c.diags})
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}
