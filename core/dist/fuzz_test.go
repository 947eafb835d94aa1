package dist

import (
	"encoding/json"
	"strings"
	"testing"
)

// Every message a driver or worker decodes has a fuzz test: jobs
// (FuzzDecodeJob), results, heartbeats, attempts records, data bundles
// (FuzzDecodeDataset); weights go through checkpoint.Parse, fuzzed in
// core/checkpoint.

func FuzzDecodeResult(f *testing.F) {
	id := strings.Repeat("a", 40)
	good, _ := json.Marshal(ResultMsg{Version: Version, ID: id, Delivery: "w-1-1", Worker: "w", Acc: 0.5, CheckAcc: 0.5, Attempt: 1,
		Weights: &ObjectRef{Name: "out/" + id + "/w-1-1", Size: 3, SHA256: strings.Repeat("0", 64)}, Build: ThisBuild(nil, "", 1)})
	f.Add(good)
	f.Add([]byte(`{"version":2,"id":"` + id + `","error":"x","given_up":true}`))
	f.Add([]byte(`{"version":2,"id":"` + id + `","acc":NaN}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeResult(b)
		if err != nil {
			return
		}
		if !validID(r.ID) || (r.Error == "" && (r.Acc < 0 || r.Acc > 1 || r.CheckAcc < 0 || r.CheckAcc > 1)) {
			t.Fatalf("accepted %+v", r)
		}
		if r.Weights != nil && !strings.HasPrefix(r.Weights.Name, "out/"+r.ID+"/") {
			t.Fatalf("accepted weights of another job: %+v", r.Weights)
		}
	})
}

func FuzzDecodeWorkerInfo(f *testing.F) {
	good, _ := json.Marshal(WorkerInfo{ID: "w", Host: "h", Slots: 2, Threads: 1, Running: []string{"network 1"}})
	f.Add(good)
	f.Add([]byte(`{"id":"w","slots":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := DecodeWorkerInfo(b)
		if err == nil && (w.ID == "" || w.Slots < 0 || len(w.Running) > w.Slots) {
			t.Fatalf("accepted %+v", w)
		}
	})
}

func FuzzDecodeAttempts(f *testing.F) {
	f.Add([]byte(`{"n":2,"owner":"w-3-2"}`))
	f.Add([]byte(`{"n":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeAttempts(b)
		if err == nil && (a.N < 0 || len(a.Owner) > 300) {
			t.Fatalf("accepted %+v", a)
		}
	})
}
