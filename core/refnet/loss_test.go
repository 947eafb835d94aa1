package refnet

import (
	"math"
	"testing"
)

func TestCrossEntropy(t *testing.T) {
	for _, c := range []struct {
		name   string
		logits []float64
		labels []int
		want   float64
	}{
		{"uniform", []float64{0, 0, 0, 0}, []int{2}, math.Log(4)},
		// -log softmax(x)_y computed naively: the max shift must not change it.
		{"two rows", []float64{1, 2, 3, 1000, 999, 998}, []int{2, 1},
			(math.Log(math.Exp(1)+math.Exp(2)+math.Exp(3)) - 3 + (1 + math.Log(1+math.Exp(-1)+math.Exp(-2)))) / 2},
		{"no rows", nil, []int{}, 0},
	} {
		if got := CrossEntropy(c.logits, c.labels); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: %.15g, want %.15g", c.name, got, c.want)
		}
	}
	if a, b := CrossEntropy([]float64{3, 1}, []int32{0}), CrossEntropy([]float64{3, 1}, []int{0}); a != b {
		t.Errorf("int32 labels %v != int labels %v", a, b)
	}
}
