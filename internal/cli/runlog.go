package cli

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/schollz/progressbar/v3"

	"github.com/eas-go/eas/core/experiment"
	"github.com/eas-go/eas/core/search"
	"github.com/eas-go/eas/core/store"
	"github.com/eas-go/eas/core/train"
)

// logger prints search progress to the command's Stderr: a bar on a
// terminal, plain lines otherwise.
type logger struct {
	w     io.Writer
	plain bool
	bar   *progressbar.ProgressBar
}

func newLogger(g *Globals, plain bool) *logger {
	return &logger{w: g.Stderr, plain: plain || !isTerminal(g.Stderr)}
}

func (l *logger) out(s string) { fmt.Fprintln(l.w, s) }

// Printf prints a line (above the bar, if one is shown).
func (l *logger) Printf(format string, args ...any) { l.printf(format, args...) }

func (l *logger) printf(format string, args ...any) {
	if l.bar != nil {
		l.bar.Clear()
	}
	l.out(fmt.Sprintf(format, args...))
}

// Epochs shows the start network's training, one bar (or line) per epoch.
func (l *logger) Epochs() func(train.Event) { return newEpochBar(l.w, l.plain).event }

func (l *logger) Begin(s experiment.Search) {
	l.printf("search %q: controller %s, %d networks, %d per episode", s.Name, s.Controller, s.Budget, s.PerEpisode)
	if !l.plain {
		l.bar = progressbar.NewOptions(s.Budget, progressbar.OptionSetWriter(l.w), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionSetWidth(25), progressbar.OptionSetDescription(s.Name))
	}
}

func (l *logger) End() {
	if l.bar != nil {
		l.bar.Finish()
		fmt.Fprintln(l.w)
		l.bar = nil
	}
}

func (l *logger) Progress(p search.Progress) {
	eta := ""
	if p.EstimatedTotal > 0 {
		eta = ", ETA " + fmtDuration(p.EstimatedTotal-p.Elapsed)
	}
	if l.bar != nil {
		l.bar.Describe(fmt.Sprintf("%s stage %d episode %d best %.2f%%%s", p.Search, max(p.Stage, 1), p.Episode, 100*p.Best, eta))
		l.bar.Set(p.Done)
		if p.Last == nil && p.Message != "" {
			l.printf("%s", p.Message)
		}
		return
	}
	if p.Last != nil {
		r := p.Last
		status := fmt.Sprintf("%.2f%%", 100*r.ValAcc)
		if r.Status == store.StatusFailed {
			status = "failed: " + firstLine(r.Error)
		} else if r.Status == store.StatusCached {
			status += " (cached)"
		}
		l.out(fmt.Sprintf("[%s] stage %d episode %d network %d/%d: %s %s; best %.2f%%%s", p.Search, max(p.Stage, 1), p.Episode, r.ID, p.Total, status, r.Arch, 100*p.Best, eta))
		return
	}
	if p.Message != "" {
		l.out(fmt.Sprintf("[%s] %s", p.Search, p.Message))
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// autoPool picks how many children train at once: the engine scales well to
// about 4 cores per network (it splits a batch of 64 over its workers), and a
// child rarely needs more than 2 GiB.
func autoPool(cores int, memGiB float64) int {
	p := max(1, cores/4)
	if memGiB > 0 {
		p = min(p, max(1, int(memGiB/2)))
	}
	return p
}

// totalMemGiB reads MemTotal from /proc/meminfo (0 where unavailable).
func totalMemGiB() float64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return 0
			}
			return kb / (1 << 20)
		}
	}
	return 0
}
