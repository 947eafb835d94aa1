package nn

import (
	"os"
	"runtime"
	"strconv"
	"sync"

	"github.com/ebitengine/purego"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// CBLAS enum values.
const (
	cblasRowMajor = 101
	cblasNoTrans  = 111
	cblasTrans    = 112
)

var (
	blasOnce    sync.Once
	blasName    = "gonum (pure Go)"
	cblasSgemm  func(order, ta, tb, m, n, k int32, alpha float32, a *float32, lda int32, b *float32, ldb int32, beta float32, c *float32, ldc int32)
	setThreads  func(n int32)
	gonumImpl   gonum.Implementation
	openblasLib uintptr
)

// loadBLAS tries OpenBLAS once; failure leaves the gonum fallback in place.
func loadBLAS() {
	blasOnce.Do(func() {
		if os.Getenv("EAS_BLAS") == "gonum" {
			blasName = "gonum (pure Go, EAS_BLAS=gonum)"
			return
		}
		for _, name := range []string{"libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"} {
			lib, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL)
			if err != nil {
				continue
			}
			sym, err := purego.Dlsym(lib, "cblas_sgemm")
			if err != nil {
				continue
			}
			purego.RegisterFunc(&cblasSgemm, sym)
			if t, err := purego.Dlsym(lib, "openblas_set_num_threads"); err == nil {
				purego.RegisterFunc(&setThreads, t)
			}
			openblasLib = lib
			blasName = "openblas (" + name + ")"
			// The engine parallelises over images itself; one BLAS thread per
			// call keeps results deterministic and avoids oversubscription.
			threads := 1
			if v, err := strconv.Atoi(os.Getenv("EAS_BLAS_THREADS")); err == nil && v > 0 {
				threads = v
			}
			SetBLASThreads(threads)
			return
		}
	})
}

// BLASName says which BLAS the engine uses.
func BLASName() string { loadBLAS(); return blasName }

// UsingOpenBLAS reports whether OpenBLAS was loaded.
func UsingOpenBLAS() bool { loadBLAS(); return cblasSgemm != nil }

// SetBLASThreads sets OpenBLAS's own thread count (no-op for gonum).
func SetBLASThreads(n int) {
	if setThreads != nil {
		setThreads(int32(n))
	}
}

// Sgemm computes C = alpha * op(A) * op(B) + beta * C for row-major matrices:
// op(A) is m x k, op(B) is k x n, C is m x n.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	loadBLAS()
	if cblasSgemm != nil {
		ta, tb := int32(cblasNoTrans), int32(cblasNoTrans)
		if transA {
			ta = cblasTrans
		}
		if transB {
			tb = cblasTrans
		}
		cblasSgemm(cblasRowMajor, ta, tb, int32(m), int32(n), int32(k), alpha, &a[0], int32(lda), &b[0], int32(ldb), beta, &c[0], int32(ldc))
		runtime.KeepAlive(a)
		runtime.KeepAlive(b)
		runtime.KeepAlive(c)
		return
	}
	tA, tB := blas.NoTrans, blas.NoTrans
	if transA {
		tA = blas.Trans
	}
	if transB {
		tB = blas.Trans
	}
	gonumImpl.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
