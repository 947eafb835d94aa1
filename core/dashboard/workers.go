package dashboard

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DistFile is the file in an experiment folder where the driver of a
// distributed run (--evaluator nats) writes the scheduling state every few
// seconds: {"time": RFC 3339, "status": {workers, queue counts}}. It is
// read leniently: fields are looked up by name in either spelling (Go's
// "Queued" or "queued"), missing or mistyped ones are shown as unknown,
// since core/dist's status may gain or lose fields between versions.
const DistFile = "dist.json"

func hasDist(dir string) bool {
	return isFile(filepath.Join(dir, DistFile)) || isDir(filepath.Join(dir, "nats"))
}

type workerLine struct {
	ID, Host, Version, Since, Seen, Running string
	Slots, Busy                             int
	ImagesPerSec, JobsPerHour               float64
	Done, Failed                            int
}

type distView struct {
	Present                                       bool
	Note, Time                                    string
	Stale                                         bool
	Queued, Running, Done, Failed, Retried, Waits string
	Rejected                                      string
	Workers                                       []workerLine
}

// readDist reads DistFile; every problem becomes a note, never an error.
func readDist(dir string, running bool) distView {
	var d distView
	b, err := os.ReadFile(filepath.Join(dir, DistFile))
	if err != nil {
		if isDir(filepath.Join(dir, "nats")) {
			d.Note = "this run used the NATS evaluator, but its driver has not published the queue (" + DistFile + "): an older easrun, or the driver has not started scheduling yet"
		} else {
			d.Note = "not a distributed run (started without --evaluator nats)"
		}
		return d
	}
	var top map[string]any
	if err := json.Unmarshal(b, &top); err != nil {
		d.Note = fmt.Sprintf("%s is not readable (%v); it is rewritten every few seconds while the driver runs", DistFile, err)
		return d
	}
	d.Present = true
	st, _ := field(top, "status").(map[string]any)
	if st == nil {
		st = top
	}
	if t, err := time.Parse(time.RFC3339Nano, str(field(top, "time"))); err == nil {
		d.Time = t.UTC().Format("2006-01-02 15:04:05 UTC")
		d.Stale = time.Since(t) > 30*time.Second
		if d.Stale && !running {
			d.Note = "the run is not running: this is the queue as its driver last saw it"
		}
	}
	d.Queued, d.Running, d.Done = count(st, "queued"), count(st, "running"), count(st, "done")
	d.Failed, d.Retried, d.Waits = count(st, "failed"), count(st, "retried"), count(st, "waiting")
	d.Rejected = count(st, "rejected")
	ws, _ := field(st, "workers").([]any)
	for _, x := range ws {
		m, ok := x.(map[string]any)
		if !ok {
			continue
		}
		d.Workers = append(d.Workers, workerOf(m, d.Time))
	}
	return d
}

func workerOf(m map[string]any, seen string) workerLine {
	w := workerLine{ID: str(field(m, "id")), Host: str(field(m, "host")), Slots: int(num(field(m, "slots"))),
		ImagesPerSec: num(field(m, "images_per_sec")), Done: int(num(field(m, "done"))), Failed: int(num(field(m, "failed"))), Seen: seen}
	run, _ := field(m, "running").([]any)
	var labels []string
	for _, r := range run {
		labels = append(labels, str(r))
	}
	w.Busy, w.Running = len(run), strings.Join(labels, ", ")
	if s := str(field(m, "last_seen")); s != "" {
		w.Seen = s
	}
	if t, err := time.Parse(time.RFC3339Nano, str(field(m, "since"))); err == nil {
		w.Since = t.UTC().Format("2006-01-02 15:04 UTC")
		if h := time.Since(t).Hours(); h > 0 {
			w.JobsPerHour = float64(w.Done) / h
		}
	}
	switch b := field(m, "build").(type) {
	case map[string]any:
		var parts []string
		for _, k := range []string{"version", "commit", "engine", "device"} {
			if v := str(field(b, k)); v != "" {
				parts = append(parts, v)
			}
		}
		w.Version = strings.Join(parts, " ")
	case string:
		w.Version = b
	}
	if w.Version == "" {
		w.Version = str(field(m, "version"))
	}
	return w
}

// field looks a key up as written, capitalised, or in camel case.
func field(m map[string]any, key string) any {
	if v, ok := m[key]; ok {
		return v
	}
	var camel strings.Builder
	up := true
	for _, r := range key {
		if r == '_' {
			up = true
			continue
		}
		if up {
			camel.WriteString(strings.ToUpper(string(r)))
			up = false
		} else {
			camel.WriteRune(r)
		}
	}
	return m[camel.String()]
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return fmt.Sprint(x)
	}
	return ""
}

func num(v any) float64 {
	if x, ok := v.(float64); ok {
		return x
	}
	return 0
}

func count(m map[string]any, key string) string {
	if x, ok := field(m, key).(float64); ok {
		return fmt.Sprint(int64(x))
	}
	return "?"
}

func (s *Server) handleWorkers(w http.ResponseWriter, r *http.Request) {
	_, sn, ok := s.runOf(w, r)
	if !ok {
		return
	}
	s.render(w, r, "workers", page{Title: "Workers of " + sn.id, Run: sn.id, Live: true, Tab: "workers", Data: readDist(sn.dir, sn.held)})
}
