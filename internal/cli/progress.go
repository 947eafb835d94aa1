package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"github.com/eas-go/eas/core/train"
)

// isTerminal reports whether w is an interactive terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// epochBar shows one progress bar per epoch on a terminal, or one plain line
// per epoch otherwise.
type epochBar struct {
	w     io.Writer
	tty   bool
	bar   *progressbar.ProgressBar
	epoch int
	start time.Time
}

func newEpochBar(w io.Writer, plain bool) *epochBar {
	return &epochBar{w: w, tty: !plain && isTerminal(w), start: time.Now()}
}

func (b *epochBar) event(e train.Event) {
	if b.tty {
		if e.Epoch != b.epoch {
			b.epoch = e.Epoch
			b.bar = progressbar.NewOptions(e.EpochImages, progressbar.OptionSetWriter(b.w),
				progressbar.OptionSetDescription(fmt.Sprintf("epoch %d/%d", e.Epoch, e.Epochs)),
				progressbar.OptionShowCount(), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionSetPredictTime(true), progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }))
		}
		b.bar.Describe(fmt.Sprintf("epoch %d/%d loss %.4f acc %.2f%% %.0f img/s", e.Epoch, e.Epochs, e.Loss, 100*e.Acc, e.ImagesPerSecond))
		b.bar.Set(e.Images)
		if e.EndOfEpoch {
			b.bar.Finish()
			if e.ValAcc >= 0 {
				fmt.Fprintf(b.w, "validation accuracy %.2f%%\n", 100*e.ValAcc)
			}
		}
		return
	}
	if e.EndOfEpoch {
		line := fmt.Sprintf("epoch %d/%d: loss %.4f, train acc %.2f%%, %.0f img/s, elapsed %s", e.Epoch, e.Epochs, e.Loss, 100*e.Acc, e.ImagesPerSecond, fmtDuration(time.Since(b.start)))
		if e.ValAcc >= 0 {
			line += fmt.Sprintf(", val acc %.2f%%", 100*e.ValAcc)
		}
		fmt.Fprintln(b.w, line)
	}
}

func fmtDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	}
	if m > 0 {
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}
