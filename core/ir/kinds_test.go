package ir_test

import (
	"slices"
	"testing"

	"github.com/eas-go/eas/core/ir"
	"github.com/eas-go/eas/dsl"
)

// One example of every kind; the test fails when a kind has no example.
var kindExamples = map[ir.Kind]string{
	ir.Conv: "C(8,3,2)", ir.Pool: "P(2,2,AVG)", ir.FC: "FC(12)", ir.Softmax: "SM(5)", ir.Dropout: "DO(0.25)",
	ir.GAP: "GAP", ir.DenseBlock: "DB(2x4,6:0,5:7)", ir.Transition: "T(0.5,3)",
	ir.Add: "ADD(C(8,3,1) | ID)", ir.Cat: "CAT(ADD(ID | ID) | C(4,1,1))", ir.Identity: "ADD(ID | ID)",
}

func TestKindTableComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range ir.Kinds() {
		if k.Name == "" || seen[k.Name] || k.Lower == nil || k.Usage == "" {
			t.Errorf("kind %d: incomplete or duplicate entry %+v", int(k.Kind), k)
		}
		seen[k.Name] = true
		if k.Kind.Info() != k || ir.LookupKind(k.Name) != k {
			t.Errorf("%s: lookup does not find the entry", k.Name)
		}
		src, ok := kindExamples[k.Kind]
		if !ok {
			t.Errorf("%s: add an example to kindExamples", k.Name)
			continue
		}
		a, l := dsl.ParseArch("x", src)
		has := slices.ContainsFunc(a.Layers, func(l ir.Layer) bool { return l.Kind == k.Kind })
		if err := l.Err(); err != nil || !has || (len(a.Layers) != 1) != a.HasMerges() {
			t.Errorf("%s: parsing %q: %v %v", k.Name, src, a, err)
			continue
		}
		if got := a.String(); got != src {
			t.Errorf("%s: %q prints as %q", k.Name, src, got)
		}
		for _, l := range a.Layers {
			if ps := l.CheckValues(); len(ps) > 0 {
				t.Errorf("%s: example has problems %v", k.Name, ps)
			}
		}
	}
	if got := ir.KindNames(); !slices.Equal(got, []string{"C", "P", "FC", "SM", "DO", "GAP", "DB", "T", "ADD", "CAT", "ID"}) {
		t.Errorf("KindNames = %v", got)
	}
	if ir.Kind(99).Info() != nil || ir.Kind(99).String() != "Kind(99)" || ir.LookupKind("conv") != nil || ir.LookupKind("gap") == nil {
		t.Error("unknown kinds must not be found; names are case-insensitive")
	}
}

// TestKindProperties checks the table's properties against what Lower does,
// so a property cannot drift from the lowering it summarises.
func TestKindProperties(t *testing.T) {
	in := ir.Shape{C: 3, H: 16, W: 16}
	for _, src := range []string{"C(4,3,1) P(2,2,MAX) DO(0.5) C(4,1,1) GAP FC(6) DO(0.2) SM(3)",
		"C(4,3,1) DB(2x2) T(0.5) DB(2) GAP SM(3)",
		"C(4,3,1) ADD(C(4,3,1) DO(0.5) | ID) CAT(C(2,1,1) | ADD(ID | P(1,1,AVG))) GAP FC(6) SM(3)"} {
		a, l := dsl.ValidateArch("x", src, in)
		if err := l.Err(); err != nil {
			t.Fatal(err)
		}
		g, err := ir.Lower(a, in)
		if err != nil {
			t.Fatal(err)
		}
		for i, layer := range a.Layers {
			k := layer.Kind.Info()
			ids := g.LayerNodes(i + 1)
			if len(ids) == 0 && k.Kind == ir.Identity {
				continue
			}
			first, last := g.Nodes[ids[0]], g.Nodes[ids[len(ids)-1]]
			inShape := g.Nodes[first.Inputs[0]].Out
			if a.Family() == ir.FamilyPlain && k.ReLU != (last.Op == ir.OpReLU) {
				t.Errorf("%s: ReLU=%v but its last node is %s", layer, k.ReLU, last.Op)
			}
			if k.PassThrough && last.Out.C != inShape.C {
				t.Errorf("%s: PassThrough but channels %d -> %d", layer, inShape.C, last.Out.C)
			}
			if (k.Flat != "") != (last.Out.H == 1 && last.Out.W == 1 && inShape.H*inShape.W > 1 || k.Kind == ir.FC) {
				t.Errorf("%s: Flat=%q but %v -> %v", layer, k.Flat, inShape, last.Out)
			}
			var names []string
			for _, id := range ids {
				names = append(names, g.Nodes[id].Name)
			}
			if k.Weights != "" && a.Family() == ir.FamilyPlain && !slices.Contains(names, ir.LayerName(i+1, k.Weights)) {
				t.Errorf("%s: Weights %q but nodes %v", layer, k.Weights, names)
			}
			w, ok := g.InputWeight(i + 1)
			if reads := first.Op == ir.OpConv || first.Op == ir.OpFC || first.Op == ir.OpLinear; ok != reads || ok && w != ir.Weight(first.Name) {
				t.Errorf("%s: InputWeight = %q, %v; first node %s %s", layer, w, ok, first.Op, first.Name)
			}
		}
	}
}

func TestParamNames(t *testing.T) {
	in := ir.Shape{C: 3, H: 16, W: 16}
	for _, src := range []string{"C(4,3,1) P(2,2,MAX) FC(6) SM(3)", "C(4,3,1) DB(2x2,3:0) T(0.5) DB(2) GAP SM(3)"} {
		a, _ := dsl.ValidateArch("x", src, in)
		g, err := ir.Lower(a, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range g.Params() {
			pn, ok := ir.ParseParamName(p.Name)
			if !ok || pn.String() != p.Name {
				t.Errorf("%s does not round-trip: %+v %v", p.Name, pn, ok)
			}
		}
	}
	cases := []struct{ got, want string }{
		{ir.Weight(ir.LayerName(3, ir.PartConv)), "l3.conv.weight"},
		{ir.Tensor(ir.DenseName(2, 5, ir.PartBN1), ir.TensorRunningVar), "l2.5.bn1.running_var"},
		{ir.ShiftLayers("l3.conv.weight", 2, 1), "l4.conv.weight"},
		{ir.ShiftLayers("l2.bn.bias", 2, 1), "l2.bn.bias"},
		{ir.ShiftLayers("l12.3.conv2.weight", 4, 2), "l14.3.conv2.weight"},
		{ir.ShiftLayers("x.weight", 0, 1), "x.weight"},
		{ir.ShiftDense("l2.3.conv1.weight", 2, 2, 1), "l2.4.conv1.weight"},
		{ir.ShiftDense("l2.3.bn1", 2, 2, 1), "l2.4.bn1"},
		{ir.ShiftDense("l2.2.bn1", 2, 2, 1), "l2.2.bn1"},
		{ir.ShiftDense("l3.3.bn1", 2, 2, 1), "l3.3.bn1"},
		{ir.ShiftDense("l2.bn.weight", 2, 0, 1), "l2.bn.weight"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	for _, bad := range []string{"", "l", "l0.conv.weight", "l01.conv.weight", "lx.conv.weight", "l1.conv", "l1.2.3.4.5", "l1..weight"} {
		if p, ok := ir.ParseParamName(bad); ok {
			t.Errorf("ParseParamName(%q) = %+v, want false", bad, p)
		}
	}
}
