package ir

import "testing"

func table1() Arch {
	c := func(n, f, s int) Layer { return Layer{Kind: Conv, Filters: n, Kernel: f, Stride: s} }
	p := func(f, s int, op PoolOp) Layer { return Layer{Kind: Pool, Kernel: f, Stride: s, Op: op} }
	return Arch{Layers: []Layer{c(16, 3, 1), p(2, 2, Max), c(32, 3, 1), p(2, 2, Max), c(64, 3, 1), p(2, 2, Max),
		c(128, 3, 1), p(4, 4, Avg), {Kind: FC, Units: 256}, {Kind: Softmax, Units: 10}}}
}

func TestTable1(t *testing.T) {
	a := table1()
	if got, want := a.String(), "C(16,3,1) P(2,2,MAX) C(32,3,1) P(2,2,MAX) C(64,3,1) P(2,2,MAX) C(128,3,1) P(4,4,AVG) FC(256) SM(10)"; got != want {
		t.Fatalf("String = %q", got)
	}
	g, err := Lower(a, Shape{3, 32, 32})
	if err != nil {
		t.Fatal(err)
	}
	params, madds := g.Cost()
	if params != 133530 {
		t.Errorf("params = %d, want 133530", params)
	}
	// 24.1 MFLOP per training image = 3 x 2 x forward multiply-adds.
	if madds != 4016640 {
		t.Errorf("madds = %d, want 4016640", madds)
	}
	if a.Depth() != 6 {
		t.Errorf("depth = %d", a.Depth())
	}
}

func TestDenseNet40(t *testing.T) {
	db := Layer{Kind: DenseBlock}
	for i := 0; i < 6; i++ {
		db.Dense = append(db.Dense, DenseLayer{Growth: 40, Bottleneck: 160})
	}
	a := Arch{Layers: []Layer{{Kind: Conv, Filters: 80, Kernel: 3, Stride: 1}, db, {Kind: Transition, Compression: 0.5},
		db, {Kind: Transition, Compression: 0.5}, db, {Kind: GAP}, {Kind: Softmax, Units: 10}}}
	if a.Depth() != 40 {
		t.Errorf("depth = %d", a.Depth())
	}
	if s := a.String(); s != "C(80,3,1) DB(6x40) T(0.5) DB(6x40) T(0.5) DB(6x40) GAP SM(10)" {
		t.Errorf("String = %q", s)
	}
	g, err := Lower(a, Shape{3, 32, 32})
	if err != nil {
		t.Fatal(err)
	}
	if out := g.Nodes[g.Output()].Out; out != (Shape{10, 1, 1}) {
		t.Errorf("out = %v", out)
	}
}

func TestCheckProblems(t *testing.T) {
	cases := []struct {
		name string
		a    Arch
	}{
		{"empty", Arch{}},
		{"no SM", Arch{Layers: []Layer{{Kind: FC, Units: 3}}}},
		{"conv after fc", Arch{Layers: []Layer{{Kind: FC, Units: 3}, {Kind: Conv, Filters: 1, Kernel: 3, Stride: 1}, {Kind: Softmax, Units: 2}}}},
		{"pool too big", Arch{Layers: []Layer{{Kind: Pool, Kernel: 64, Stride: 1, Op: Max}, {Kind: Softmax, Units: 2}}}},
		{"zero filters", Arch{Layers: []Layer{{Kind: Conv, Filters: 0, Kernel: 3, Stride: 1}, {Kind: Softmax, Units: 2}}}},
		{"SM not last", Arch{Layers: []Layer{{Kind: Softmax, Units: 2}, {Kind: FC, Units: 3}}}},
	}
	for _, c := range cases {
		if ps := c.a.Check(Shape{3, 32, 32}); len(ps) == 0 {
			t.Errorf("%s: no problem reported", c.name)
		}
	}
}
