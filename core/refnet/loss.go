package refnet

import "math"

// CrossEntropy is the mean softmax cross-entropy of logits [b, k] for labels,
// in float64 with the max subtracted first: the reference that the engine's
// loss and the transforms' preservation checks are held to.
func CrossEntropy[L ~int | ~int32](logits []float64, labels []L) float64 {
	if len(labels) == 0 {
		return 0
	}
	k := len(logits) / len(labels)
	var s float64
	for i, y := range labels {
		row := logits[i*k : (i+1)*k]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, v)
		}
		var z float64
		for _, v := range row {
			z += math.Exp(v - mx)
		}
		s += math.Log(z) + mx - row[y]
	}
	return s / float64(len(labels))
}
