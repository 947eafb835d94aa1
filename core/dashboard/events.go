package dashboard

import (
	"fmt"
	"net/http"
	"sync"
	"time"
)

// maxStreams bounds the open event streams (each holds a connection).
const maxStreams = 256

// bus fans run changes out to the event streams. A subscriber's channel
// holds one pending note per run: a slow browser gets the latest state,
// never a backlog.
type bus struct {
	mu     sync.Mutex
	subs   map[chan string]string // channel -> run id it follows ("" = all)
	closed bool
}

func newBus() *bus { return &bus{subs: map[chan string]string{}} }

func (b *bus) subscribe(run string) (chan string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || len(b.subs) >= maxStreams {
		return nil, false
	}
	c := make(chan string, 8)
	b.subs[c] = run
	return c, true
}

func (b *bus) unsubscribe(c chan string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[c]; ok {
		delete(b.subs, c)
		close(c)
	}
}

// publish tells the streams following run, and those following all runs
// (the runs list), that it changed; "" reaches only the latter.
func (b *bus) publish(run string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for c, want := range b.subs {
		if want == run || want == "" { // the runs list follows every run
			select {
			case c <- run:
			default: // a note is already pending: the browser will fetch the newest page anyway
			}
		}
	}
}

func (b *bus) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for c := range b.subs {
		delete(b.subs, c)
		close(c)
	}
}

// handleEvents is the server-sent event stream of one run (?run=ID) or of
// all (the runs list): an event "change" when its files change, a comment
// every 15 s to keep proxies from closing the connection.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("run")
	if id != "" {
		if _, ok := s.lookup(id); !ok {
			s.fail(w, r, http.StatusNotFound, fmt.Sprintf("no run %q", id))
			return
		}
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		s.fail(w, r, http.StatusInternalServerError, "this connection cannot stream events")
		return
	}
	c, ok := s.bus.subscribe(id)
	if !ok {
		s.fail(w, r, http.StatusServiceUnavailable, "too many open event streams; close some dashboard tabs")
		return
	}
	defer s.bus.unsubscribe(c)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	fmt.Fprint(w, "retry: 2000\n\n")
	fl.Flush()
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case run, ok := <-c:
			if !ok {
				return
			}
			fmt.Fprintf(w, "event: change\ndata: %q\n\n", run)
			fl.Flush()
		case <-keep.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			fl.Flush()
		}
	}
}
