package dashboard

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRecordLog: any bytes in networks.jsonl, read in one go or in two
// appends, give records and named bad lines, never a panic; reading in two
// steps gives what one read gives.
func FuzzRecordLog(f *testing.F) {
	f.Add([]byte(`{"id":1,"kind":"sample","val_acc":0.5}`+"\n"), 10)
	f.Add([]byte("{\"id\":1}\nnot json\n{\"id\":3,\"arch\":\"FC("), 5)
	f.Add([]byte("\n\n{}\n{\"actions\":[1]}\n"), 3)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		dir := t.TempDir()
		path := filepath.Join(dir, "networks.jsonl")
		os.WriteFile(path, data, 0o644)
		one := &recordLog{path: path}
		one.update()
		if cut < 0 || cut > len(data) {
			cut = len(data) / 2
		}
		os.WriteFile(path, data[:cut], 0o644)
		two := &recordLog{path: path}
		two.update()
		fh, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		fh.Write(data[cut:])
		fh.Close()
		two.update()
		if len(one.recs) != len(two.recs) || len(one.bad) != len(two.bad) || one.partial != two.partial {
			t.Fatalf("one read: %d records %d bad partial %v; two reads: %d %d %v", len(one.recs), len(one.bad), one.partial, len(two.recs), len(two.bad), two.partial)
		}
		lines := strings.Count(string(data), "\n")
		if len(one.recs)+len(one.bad) > lines+1 {
			t.Fatalf("%d records and %d bad lines from %d lines", len(one.recs), len(one.bad), lines)
		}
	})
}

// FuzzNetQuery: any query string is either refused with a message or
// gives a page within range, never a panic.
func FuzzNetQuery(f *testing.F) {
	f.Add("sort=acc&dir=desc&page=2&per=5&acc_min=50")
	f.Add("search=rl&kind=sample&status=ok&q=C(16&gain_max=-1e308")
	f.Add("page=-1&per=NaN&depth_min=Inf")
	rows := []netRow{}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseNetQuery(v, []string{"rl", "random"}, 100)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty message")
			}
			return
		}
		if q.Page < 1 || q.Per < 1 || q.Per > 1000 {
			t.Fatalf("accepted page %d per %d", q.Page, q.Per)
		}
		q.sorted(rows)
		q.link("page", "2")
	})
}

// TestBusRouting: a run's page hears its run only; the runs list hears all.
func TestBusRouting(t *testing.T) {
	b := newBus()
	a, _ := b.subscribe("a")
	all, _ := b.subscribe("")
	b.publish("b")
	b.publish("a")
	if got := <-a; got != "a" || len(a) != 0 {
		t.Errorf("run a's stream got %q (+%d)", got, len(a))
	}
	if len(all) != 2 {
		t.Errorf("the runs list got %d notes, want 2", len(all))
	}
	b.close()
	if _, ok := <-a; ok {
		t.Error("stream open after close")
	}
}
