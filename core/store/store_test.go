package store

import (
	"os"
	"path/filepath"
	"testing"
)

func TestAppendReopenAndTornLine(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if err := s.Append(Record{ID: i, Arch: "FC(8) SM(2)", ValAcc: float64(i) / 10, Status: StatusOK}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	// Simulate a crash in the middle of writing a fourth record.
	f, _ := os.OpenFile(filepath.Join(dir, "networks.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"id":4,"arch":"FC(`)
	f.Close()
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(s.Records()); got != 3 || !s.Dropped {
		t.Fatalf("records %d dropped %v, want 3 and true", got, s.Dropped)
	}
	if err := s.Append(Record{ID: 4, Status: StatusOK}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, _ = Open(dir)
	if r := s.Records(); len(r) != 4 || r[3].ID != 4 || r[1].ValAcc != 0.2 {
		t.Fatalf("after repair: %+v", r)
	}
}

func TestCorruptMiddleLineIsAnError(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "networks.jsonl"), []byte("{\"id\":1}\nnot json\n{\"id\":3}\n"), 0o644)
	if _, err := Open(dir); err == nil {
		t.Fatal("corrupt middle record accepted")
	}
}

func TestControllerState(t *testing.T) {
	s, _ := Open(t.TempDir())
	if _, ok, err := s.LoadController(); ok || err != nil {
		t.Fatal("state in a new dir")
	}
	want := ControllerState{Stage: 1, Episode: 3, Sampled: 30, State: []byte{1, 2, 3}}
	if err := s.SaveController(want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.LoadController()
	if !ok || err != nil || got.Episode != 3 || string(got.State) != string(want.State) {
		t.Fatalf("got %+v %v %v", got, ok, err)
	}
}
