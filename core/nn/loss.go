package nn

import "math"

// softmaxCrossEntropy computes the mean cross-entropy of logits [b, k]
// against labels, stably (max subtracted), the count of correct argmax
// predictions, and writes d(loss)/d(logits) = (softmax - onehot)/b to grad.
func softmaxCrossEntropy(logits []float32, labels []int32, k int, probs, grad []float32) (float64, int) {
	b := len(labels)
	var loss float64
	correct := 0
	for i := 0; i < b; i++ {
		row := logits[i*k : (i+1)*k]
		mx, arg := row[0], 0
		for j, v := range row {
			if v > mx {
				mx, arg = v, j
			}
		}
		if arg == int(labels[i]) {
			correct++
		}
		var s float64
		p := probs[i*k : (i+1)*k]
		for j, v := range row {
			e := math.Exp(float64(v - mx))
			p[j] = float32(e)
			s += e
		}
		y := labels[i]
		loss += math.Log(s) - float64(row[y]-mx)
		g := grad[i*k : (i+1)*k]
		inv := float32(1 / s)
		for j := range p {
			g[j] = p[j] * inv / float32(b)
		}
		g[y] -= 1 / float32(b)
	}
	return loss / float64(b), correct
}
