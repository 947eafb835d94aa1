package nn

import (
	"math"
	"math/rand"
	"testing"
)

func naiveGemm(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if ta {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if tb {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			c[i*ldc+j] = alpha*float32(s) + beta*c[i*ldc+j]
		}
	}
}

func TestSgemm(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	t.Logf("BLAS: %s", BLASName())
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			m, n, k := 7, 13, 5
			a := randSlice(r, m*k)
			b := randSlice(r, k*n)
			c1 := randSlice(r, m*n)
			c2 := append([]float32(nil), c1...)
			lda, ldb := k, n
			if ta {
				lda = m
			}
			if tb {
				ldb = k
			}
			Sgemm(ta, tb, m, n, k, 1.5, a, lda, b, ldb, 0.5, c1, n)
			naiveGemm(ta, tb, m, n, k, 1.5, a, lda, b, ldb, 0.5, c2, n)
			for i := range c1 {
				if math.Abs(float64(c1[i]-c2[i])) > 1e-4 {
					t.Fatalf("ta=%v tb=%v: c[%d] = %g, want %g", ta, tb, i, c1[i], c2[i])
				}
			}
		}
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}
