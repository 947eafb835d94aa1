package nn

import (
	"fmt"
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

// TestSgemm checks every transpose combination with padded leading
// dimensions (a swapped lda/ldb would fail), also from concurrent callers,
// which each need their own argument block.
func TestSgemm(t *testing.T) {
	t.Logf("BLAS: %s", BLASName())
	check := func(seed int64) error {
		r := rand.New(rand.NewSource(seed))
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				m, n, k := 7+r.Intn(9), 13+r.Intn(9), 5+r.Intn(9)
				lda, ldb, ldc := k+3, n+2, n+1
				if ta {
					lda = m + 3
				}
				if tb {
					ldb = k + 2
				}
				rows := func(tr bool, r1, r2 int) int {
					if tr {
						return r2
					}
					return r1
				}
				a := randSlice(r, rows(ta, m, k)*lda)
				b := randSlice(r, rows(tb, k, n)*ldb)
				c1 := randSlice(r, m*ldc)
				c2 := append([]float32(nil), c1...)
				Sgemm(ta, tb, m, n, k, 1.5, a, lda, b, ldb, 0.5, c1, ldc)
				naiveGemm(ta, tb, m, n, k, 1.5, a, lda, b, ldb, 0.5, c2, ldc)
				for i := range c1 {
					if math.Abs(float64(c1[i]-c2[i])) > 1e-4 {
						return fmt.Errorf("ta=%v tb=%v m=%d n=%d k=%d: c[%d] = %g, want %g", ta, tb, m, n, k, i, c1[i], c2[i])
					}
				}
			}
		}
		return nil
	}
	if err := check(1); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func(g int) {
			var err error
			for i := 0; i < 20 && err == nil; i++ {
				err = check(int64(100*g + i))
			}
			errs <- err
		}(g)
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
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
