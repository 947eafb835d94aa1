package nn

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/ebitengine/purego"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

var (
	blasOnce    sync.Once
	blasName    = "gonum (pure Go)"
	sgemmF      uintptr // OpenBLAS's Fortran-interface sgemm_
	setThreads  func(n int32)
	gonumImpl   gonum.Implementation
	openblasLib uintptr
	blasThreads = 1
	// forceGonum is SetBLAS("gonum"): the pure-Go sgemm even when OpenBLAS
	// is (or could be) loaded.
	forceGonum atomic.Bool
	blasCore   string // openblas_get_corename after loading ("" for gonum)
)

// loadBLAS tries OpenBLAS once; failure leaves the gonum fallback in place.
func loadBLAS() {
	blasOnce.Do(func() {
		chooseCore()
		for _, name := range []string{"libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"} {
			lib, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL)
			if err != nil {
				continue
			}
			// sgemm_ takes every argument by pointer, so it is called with
			// purego.SyscallN, which does not allocate; a RegisterFunc'd
			// cblas_sgemm goes through reflect and allocated ~170 times a
			// training step.
			sym, err := purego.Dlsym(lib, "sgemm_")
			if err != nil {
				continue
			}
			sgemmF = sym
			if t, err := purego.Dlsym(lib, "openblas_set_num_threads"); err == nil {
				purego.RegisterFunc(&setThreads, t)
			}
			openblasLib = lib
			blasName = "openblas (" + name + ")"
			var str func() string
			if sym, err := purego.Dlsym(lib, "openblas_get_config"); err == nil {
				purego.RegisterFunc(&str, sym)
				// "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ...": keep the version.
				if f := strings.Fields(str()); len(f) >= 2 {
					blasName = "openblas " + f[1] + " (" + name + ")"
				}
			}
			blasCore = "unknown"
			if sym, err := purego.Dlsym(lib, "openblas_get_corename"); err == nil {
				purego.RegisterFunc(&str, sym)
				blasCore = str()
			}
			// The engine parallelises over images itself; one BLAS thread per
			// call (the default of blasThreads) keeps results deterministic
			// and avoids oversubscription.
			SetBLASThreads(blasThreads)
			return
		}
	})
}

// BLAS choices for SetBLAS.
const (
	BLASAuto     = "auto"     // OpenBLAS when it loads, else gonum
	BLASOpenBLAS = "openblas" // OpenBLAS or an error
	BLASGonum    = "gonum"    // the pure-Go sgemm
)

// SetBLAS chooses the sgemm of every net in the process (the library is
// loaded once per process, so this is not a per-net setting): BLASAuto (or
// ""), BLASOpenBLAS, which fails when the library cannot be loaded, or
// BLASGonum. Call it before training starts, not while nets run.
func SetBLAS(choice string) error {
	switch choice {
	case "", BLASAuto:
		forceGonum.Store(false)
	case BLASGonum:
		forceGonum.Store(true)
	case BLASOpenBLAS:
		loadBLAS()
		if sgemmF == 0 {
			return fmt.Errorf("nn: OpenBLAS was asked for but could not be loaded (libopenblas.so.0, libopenblas.so, libopenblas.dylib); install libopenblas0")
		}
		forceGonum.Store(false)
	default:
		return fmt.Errorf("nn: unknown BLAS %q (want %s, %s or %s)", choice, BLASAuto, BLASOpenBLAS, BLASGonum)
	}
	return nil
}

// BLASName says which BLAS the engine uses.
func BLASName() string {
	if forceGonum.Load() {
		return "gonum (pure Go, chosen)"
	}
	loadBLAS()
	return blasName
}

// BLASCore is the kernel set OpenBLAS runs, as the library reports it
// (e.g. "Cooperlake", "Haswell"); "" when the gonum sgemm is in use.
func BLASCore() string {
	if !UsingOpenBLAS() {
		return ""
	}
	return blasCore
}

// BLASCoreNote says how the core was chosen, and warns when it leaves the
// CPU's vector units idle; "" for gonum.
func BLASCoreNote() string {
	if BLASCore() == "" {
		return ""
	}
	if w := coreWarning(blasCore, hostFeatures()); w != "" {
		return coreSource + "; " + w
	}
	return coreSource
}

// UsingOpenBLAS reports whether the engine's GEMMs go to OpenBLAS.
func UsingOpenBLAS() bool { return !forceGonum.Load() && loaded() }

func loaded() bool { loadBLAS(); return sgemmF != 0 }

// SetBLASThreads sets OpenBLAS's own thread count (default 1; it only
// matters for OpenBLAS).
func SetBLASThreads(n int) {
	blasThreads = n
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
	if !forceGonum.Load() && loaded() {
		fortranSgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
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

// gemmArgs holds sgemm_'s by-reference scalars. Blocks are recycled, and
// live on the heap, because concurrent calls each need their own; a free
// list rather than a sync.Pool, which the GC empties (then a call allocates).
type gemmArgs struct {
	ta, tb        byte
	m, n, k       int32
	lda, ldb, ldc int32
	alpha, beta   float32
	// args is SyscallN's argument list: passed as an existing slice it
	// does not escape per call (a variadic literal is heap-allocated).
	args [13]uintptr
}

var gemmArgFree = make(freeList[gemmArgs], 4*runtime.NumCPU()+16)

// fortranSgemm calls the column-major sgemm_ for a row-major product: a
// row-major matrix is its column-major transpose, so C^T = op(B)^T op(A)^T
// with the operands swapped.
func fortranSgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g := gemmArgFree.get()
	g.ta, g.tb = 'N', 'N'
	if transB {
		g.ta = 'T'
	}
	if transA {
		g.tb = 'T'
	}
	g.m, g.n, g.k = int32(n), int32(m), int32(k)
	g.lda, g.ldb, g.ldc = int32(ldb), int32(lda), int32(ldc)
	g.alpha, g.beta = alpha, beta
	g.args = [13]uintptr{
		uintptr(unsafe.Pointer(&g.ta)), uintptr(unsafe.Pointer(&g.tb)),
		uintptr(unsafe.Pointer(&g.m)), uintptr(unsafe.Pointer(&g.n)), uintptr(unsafe.Pointer(&g.k)),
		uintptr(unsafe.Pointer(&g.alpha)), uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&g.lda)),
		uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&g.ldb)),
		uintptr(unsafe.Pointer(&g.beta)), uintptr(unsafe.Pointer(&c[0])), uintptr(unsafe.Pointer(&g.ldc))}
	purego.SyscallN(sgemmF, g.args[:]...)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	runtime.KeepAlive(c)
	gemmArgFree.put(g)
}
