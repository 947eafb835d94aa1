package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/eas-go/eas/core/nn"
)

// blasNotes writes how OpenBLAS's kernel set was chosen (and any warning
// about it), or, on the pure-Go fallback, one line on what OpenBLAS would
// gain. Call it after the engine is opened.
func blasNotes(w io.Writer) {
	if note := nn.BLASCoreNote(); note != "" {
		fmt.Fprintf(w, "blas core: %s\n", note)
	}
	if !nn.UsingOpenBLAS() && os.Getenv("EAS_BLAS") != "gonum" {
		fmt.Fprintln(w, gonumHint)
	}
}

// gonumHint is printed when OpenBLAS is missing. Measured with
// `easrun bench` against EAS_BLAS=gonum, alternating, on 2 cores: the Table 1
// network trains 1.5-8x faster with OpenBLAS, a 40x larger plain net ~15x.
const gonumHint = "note: OpenBLAS not found, so the pure-Go BLAS runs; training would be about 2x (small networks) " +
	"to 15x (large ones) faster with it: apt-get install libopenblas0"
