package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/eas-go/eas/core/store"
)

// findNetwork resolves ?search=NAME and either &n=INDEX (its position in
// the search's records) or &id=ID (a sampled network's number).
func findNetwork(sn snap, r *http.Request) (searchSnap, int, error) {
	v := r.URL.Query()
	x, ok := sn.search(v.Get("search"))
	if !ok {
		return x, 0, fmt.Errorf("search=%q: no such search in this run", v.Get("search"))
	}
	if s := v.Get("n"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n >= len(x.recs) {
			return x, 0, fmt.Errorf("n=%q: expected a record number from 0 to %d", s, len(x.recs)-1)
		}
		return x, n, nil
	}
	id, err := strconv.Atoi(v.Get("id"))
	if err != nil {
		return x, 0, fmt.Errorf("give n=RECORD or id=NETWORK (a whole number)")
	}
	for i, rec := range x.recs {
		if rec.ID == id && rec.Kind == store.KindSample {
			return x, i, nil
		}
	}
	return x, 0, fmt.Errorf("id=%d: search %q has no sampled network with that number (yet)", id, x.name)
}

type lineStep struct {
	N       int
	Rec     store.Record
	Actions string
	Here    bool
}

// lineage walks parents (by architecture hash) back to the start network;
// a parent not among the search's records ends the chain with a note.
func lineage(x searchSnap, n int) ([]lineStep, string) {
	first := map[string]int{}
	for i, r := range x.recs {
		if _, ok := first[r.Hash]; !ok && r.Status != store.StatusFailed && r.Kind != store.KindControl {
			first[r.Hash] = i
		}
	}
	chain := []lineStep{{N: n, Rec: x.recs[n], Here: true}}
	seen := map[int]bool{n: true}
	cur := x.recs[n]
	note := ""
	for cur.Parent != "" && cur.Kind != "start" {
		p, ok := first[cur.Parent]
		if !ok || seen[p] {
			note = fmt.Sprintf("its parent (architecture hash %s) is not among this search's records", cur.Parent)
			break
		}
		seen[p] = true
		cur = x.recs[p]
		chain = append(chain, lineStep{N: p, Rec: cur})
	}
	// Oldest first; each step shows the actions that made it from the one before.
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	for i := range chain {
		chain[i].Actions = strings.Join(chain[i].Rec.Actions, "; ")
	}
	return chain, note
}

// checkpointPath is the record's checkpoint, only if it resolves (links
// followed) to a regular file inside the run's folder: records are data,
// and data may lie.
func checkpointPath(runDir string, x searchSnap, rec store.Record) (string, error) {
	if rec.Weights == "" {
		return "", errors.New("this record has no checkpoint (only networks worth keeping are saved)")
	}
	if filepath.IsAbs(rec.Weights) || !strings.HasSuffix(rec.Weights, ".safetensors") {
		return "", fmt.Errorf("the record's checkpoint %q is not a .safetensors file inside the run; not served", rec.Weights)
	}
	p := filepath.Join(x.dir, filepath.FromSlash(rec.Weights))
	root, err := filepath.EvalSymlinks(runDir)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("checkpoint %s is missing", rec.Weights)
	}
	if !within(root, real) || !within(runDir, p) {
		return "", fmt.Errorf("the record's checkpoint %q lies outside the run; not served", rec.Weights)
	}
	if st, err := os.Stat(real); err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("checkpoint %s is not a file", rec.Weights)
	}
	return real, nil
}

func (s *Server) handleNetwork(w http.ResponseWriter, r *http.Request) {
	_, sn, ok := s.runOf(w, r)
	if !ok {
		return
	}
	x, n, err := findNetwork(sn, r)
	if err != nil {
		s.fail(w, r, http.StatusNotFound, "network: "+err.Error())
		return
	}
	rec := x.recs[n]
	chain, note := lineage(x, n)
	js, _ := json.MarshalIndent(rec, "", "  ")
	layers, lerr := "", ""
	if s.opt.Layers != nil && rec.Arch != "" {
		if layers, err = s.opt.Layers(sn.dir, rec.Arch); err != nil {
			lerr = err.Error()
		}
	}
	_, cerr := checkpointPath(sn.dir, x, rec)
	ckErr := ""
	if cerr != nil {
		ckErr = cerr.Error()
	}
	ctl := controls(x.recs)
	gain := nan
	if c, ok := ctl[max(rec.Stage, 1)]; ok && rec.Status != store.StatusFailed {
		gain = rec.ValAcc - c
	}
	s.render(w, r, "network", page{Title: fmt.Sprintf("%s #%d", x.name, rec.ID), Run: sn.id, Tab: "networks", Data: struct {
		Search       string
		N            int
		Rec          store.Record
		Gain         float64
		JSON         string
		Chain        []lineStep
		ChainNote    string
		Layers, LErr string
		CkErr        string
		CanExport    bool
	}{x.name, n, rec, gain, string(js), chain, note, layers, lerr, ckErr, s.opt.Export != nil}})
}

func (s *Server) handleCheckpoint(w http.ResponseWriter, r *http.Request) {
	_, sn, ok := s.runOf(w, r)
	if !ok {
		return
	}
	x, n, err := findNetwork(sn, r)
	if err != nil {
		s.fail(w, r, http.StatusNotFound, "checkpoint: "+err.Error())
		return
	}
	p, err := checkpointPath(sn.dir, x, x.recs[n])
	if err != nil {
		s.fail(w, r, http.StatusNotFound, "checkpoint: "+err.Error())
		return
	}
	name := fmt.Sprintf("%s-%s-%d.safetensors", sn.id, strings.ReplaceAll(x.name, "/", "-"), x.recs[n].ID)
	serveFile(w, r, p, name, "application/octet-stream")
}

// handleExport serves model.py or model.safetensors of the network's
// PyTorch export, made on the first request and cached outside the run.
func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	if file != "model.py" && file != "model.safetensors" {
		s.fail(w, r, http.StatusNotFound, "export: model.py or model.safetensors")
		return
	}
	_, sn, ok := s.runOf(w, r)
	if !ok {
		return
	}
	x, n, err := findNetwork(sn, r)
	if err != nil {
		s.fail(w, r, http.StatusNotFound, "export: "+err.Error())
		return
	}
	p, err := checkpointPath(sn.dir, x, x.recs[n])
	if err != nil {
		s.fail(w, r, http.StatusNotFound, "export: "+err.Error())
		return
	}
	dir, err := s.exports.get(p, s.opt.Export)
	if err != nil {
		s.fail(w, r, http.StatusUnprocessableEntity, "this network cannot be exported: "+err.Error())
		return
	}
	typ := "application/octet-stream"
	if file == "model.py" {
		typ = "text/x-python; charset=utf-8"
	}
	serveFile(w, r, filepath.Join(dir, file), file, typ)
}

func serveFile(w http.ResponseWriter, r *http.Request, path, name, typ string) {
	f, err := os.Open(path)
	if err != nil {
		http.Error(w, "cannot read the file", http.StatusNotFound)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.Error(w, "cannot read the file", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", typ)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	http.ServeContent(w, r, name, st.ModTime(), f)
}
