//go:build unix

package dashboard

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A small Chrome DevTools Protocol client for the browser test: a
// websocket client (RFC 6455, text frames, client-side masking) and
// synchronous commands. Only what the test needs.

type wsConn struct {
	c net.Conn
	r *bufio.Reader
}

func wsDial(raw string) (*wsConn, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	c, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		u.RequestURI(), u.Host, base64.StdEncoding.EncodeToString(key))
	r := bufio.NewReaderSize(c, 1<<16)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, fmt.Errorf("websocket handshake: %s", resp.Status)
	}
	return &wsConn{c: c, r: r}, nil
}

func (w *wsConn) write(op byte, payload []byte) error {
	hdr := []byte{0x80 | op}
	n := len(payload)
	switch {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 1<<16:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	mask := make([]byte, 4)
	rand.Read(mask)
	hdr = append(hdr, mask...)
	body := make([]byte, n)
	for i := range payload {
		body[i] = payload[i] ^ mask[i%4]
	}
	_, err := w.c.Write(append(hdr, body...))
	return err
}

// read returns the next whole text message (answering pings).
func (w *wsConn) read() ([]byte, error) {
	var msg []byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(w.r, h[:]); err != nil {
			return nil, err
		}
		fin, op := h[0]&0x80 != 0, h[0]&0x0f
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(w.r, b[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(w.r, b[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		var mask [4]byte
		if h[1]&0x80 != 0 {
			io.ReadFull(w.r, mask[:])
		}
		if n > 64<<20 {
			return nil, errors.New("websocket frame over 64 MiB")
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(w.r, p); err != nil {
			return nil, err
		}
		if h[1]&0x80 != 0 {
			for i := range p {
				p[i] ^= mask[i%4]
			}
		}
		switch op {
		case 8:
			return nil, errors.New("websocket closed by the browser")
		case 9:
			w.write(10, p)
			continue
		case 10:
			continue
		}
		msg = append(msg, p...)
		if fin {
			return msg, nil
		}
	}
}

type cdp struct {
	ws *wsConn
	id int
}

// call sends a command and waits for its answer (events are skipped).
func (c *cdp) call(method string, params any, result any) error {
	c.id++
	b, _ := json.Marshal(map[string]any{"id": c.id, "method": method, "params": params})
	if err := c.ws.write(1, b); err != nil {
		return err
	}
	c.ws.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		m, err := c.ws.read()
		if err != nil {
			return fmt.Errorf("%s: %w", method, err)
		}
		var ans struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(m, &ans) != nil || ans.ID != c.id {
			continue
		}
		if ans.Error != nil {
			return fmt.Errorf("%s: %s", method, ans.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(ans.Result, result)
		}
		return nil
	}
}

// eval evaluates a JavaScript expression in the page and returns its value.
func (c *cdp) eval(expr string) (any, error) {
	var r struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := c.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r); err != nil {
		return nil, err
	}
	if r.Exception != nil {
		return nil, fmt.Errorf("%s: %s", expr, r.Exception.Text)
	}
	return r.Result.Value, nil
}

// navigate loads url and waits for the document to be complete.
func (c *cdp) navigate(u string) error {
	if err := c.call("Page.navigate", map[string]any{"url": u}, nil); err != nil {
		return err
	}
	return c.until(20*time.Second, `document.readyState === "complete" && location.href === `+jsString(u))
}

// until polls a JavaScript condition (every 50 ms) until it holds.
func (c *cdp) until(d time.Duration, cond string) error {
	end := time.Now().Add(d)
	for {
		v, err := c.eval(cond)
		if err == nil && v == true {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("after %v: %s is still false (%v)", d, cond, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *cdp) screenshot(path string) error {
	var r struct {
		Data string `json:"data"`
	}
	if err := c.call("Page.captureScreenshot", map[string]any{"format": "png"}, &r); err != nil {
		return err
	}
	b, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// startBrowser starts headless Chromium with a debugging port and connects
// to its first page; the test skips where no Chromium is installed.
func startBrowser(t *testing.T) *cdp {
	t.Helper()
	var bin string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("no Chromium installed (Debian: apt-get install chromium): the browser test is skipped")
	}
	profile, err := os.MkdirTemp("", "eas-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
		"--no-default-browser-check", "--disable-extensions", "--hide-scrollbars", "--window-size=1280,1600",
		"--remote-debugging-port=0", "--user-data-dir="+profile, "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers end with it
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		for i := 0; i < 20 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond) // helpers still exiting
		}
	})
	found := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`DevTools listening on (ws://\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	var browserWS string
	select {
	case browserWS = <-found:
	case <-time.After(40 * time.Second):
		t.Fatal("Chromium did not open its debugging port within 40 s")
	}
	u, _ := url.Parse(browserWS)
	var pageWS string
	for end := time.Now().Add(10 * time.Second); pageWS == "" && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get("http://" + u.Host + "/json/list")
		if err != nil {
			continue
		}
		var targets []struct{ Type, WebSocketDebuggerUrl string }
		json.NewDecoder(resp.Body).Decode(&targets)
		resp.Body.Close()
		for _, tg := range targets {
			if tg.Type == "page" {
				pageWS = tg.WebSocketDebuggerUrl
				break
			}
		}
	}
	if pageWS == "" {
		t.Fatal("Chromium shows no page target")
	}
	ws, err := wsDial(pageWS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.c.Close() })
	c := &cdp{ws: ws}
	if err := c.call("Page.enable", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	return c
}

var _ = strings.TrimSpace
