package dist

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"go/parser"
	"go/token"
	"math"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eas-go/eas/core/search"
)

func validJob(t testing.TB) JobMsg {
	m := JobMsg{Version: Version, Arch: "C(4,3,1) P(2,2,MAX) FC(8) SM(4)", Input: tinyInput,
		Weights: ObjectRef{Size: 10, SHA256: strings.Repeat("ab", 32)}}
	m.Training.Epochs, m.Training.Batch, m.Training.LR = 1, 16, 0.1
	id, err := contentID(m)
	if err != nil {
		t.Fatal(err)
	}
	m.ID = id
	m.Weights.Name = "in/" + m.ID
	return m
}

// TestContentIDRefusesWhatJSONCannotCarry: a NaN learning rate is an error,
// not the hash of an empty message shared by every such job.
func TestContentIDRefusesWhatJSONCannotCarry(t *testing.T) {
	m := validJob(t)
	m.Training.LR = math.NaN()
	if id, err := contentID(m); err == nil {
		t.Errorf("NaN learning rate hashed to %s", id)
	}
}

// TestDecodeJobNeedsAParser: without an architecture parser the job is
// refused with a clear error rather than a nil call.
func TestDecodeJobNeedsAParser(t *testing.T) {
	b, err := json.Marshal(validJob(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := DecodeJob(b, nil); err == nil || !strings.Contains(err.Error(), "parser") {
		t.Errorf("nil parser: %v", err)
	}
	if err := (&Worker{}).Run(context.Background()); err == nil || !strings.Contains(err.Error(), "ParseArch") {
		t.Errorf("worker without ParseArch: %v", err)
	}
}

// TestNoDSLImport: core/dist gets the architecture parser from its caller
// (docs/internals/design.md: the DSL is upstream of the search core).
func TestNoDSLImport(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			if strings.Contains(im.Path.Value, "github.com/eas-go/eas/dsl") {
				t.Errorf("%s imports %s", f, im.Path.Value)
			}
		}
	}
}

func TestDecodeJobNamesTheProblem(t *testing.T) {
	good := validJob(t)
	b, _ := json.Marshal(good)
	if _, _, err := DecodeJob(b, parseArch); err != nil {
		t.Fatalf("valid job: %v", err)
	}
	mut := func(f func(*JobMsg)) []byte {
		m := good
		f(&m)
		b, _ := json.Marshal(m)
		return b
	}
	for _, c := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"not json", []byte("\x00garbage"), "not a JSON object"},
		{"no version", []byte(`{"id":"x"}`), "no protocol version"},
		{"other version", []byte(`{"version":99,"something":"new"}`), "version 99"},
		{"oversized", append(append([]byte(`{"version":2,"label":"`), make([]byte, MaxMessage)...), `"}`...), "exceeds"},
		{"unknown field", []byte(strings.Replace(string(b), `"version":2`, `"version":2,"evil":1`, 1)), "unknown field"},
		{"trailing", append(append([]byte{}, b...), []byte(` {}`)...), "after top-level value"},
		{"bad arch", mut(func(m *JobMsg) { m.Arch = "C(4,3" }), "arch"},
		{"arch for another input", mut(func(m *JobMsg) { m.Arch = "P(2,2,MAX) P(2,2,MAX) P(2,2,MAX) P(2,2,MAX) SM(4)" }), "arch"},
		{"bad batch", mut(func(m *JobMsg) { m.Training.Batch = 0 }), "batch 0"},
		{"bad object", mut(func(m *JobMsg) { m.Weights.Name = "../etc/passwd" }), "object name"},
		{"bad sha", mut(func(m *JobMsg) { m.Weights.SHA256 = "xyz" }), "sha256"},
		{"altered", mut(func(m *JobMsg) { m.Training.Epochs = 2 }), "does not match the content"},
		{"bad id", mut(func(m *JobMsg) { m.ID = "../x" }), "40 hex digits"},
	} {
		_, _, err := DecodeJob(c.msg, parseArch)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
	if _, _, err := DecodeJob([]byte(`{"version":3}`), parseArch); !errorsIs(err, ErrVersion) {
		t.Errorf("version mismatch is not ErrVersion: %v", err)
	}
}

func TestDecodeResultChecks(t *testing.T) {
	id := strings.Repeat("a", 40)
	for _, c := range []struct{ msg, want string }{
		{`{"version":2,"id":"` + id + `","acc":0.5}`, ""},
		{`{"version":2,"id":"` + id + `","acc":1.5}`, "outside [0, 1]"},
		{`{"version":2,"id":"` + id + `","acc":0.5,"weights":{"name":"in/x","size":1,"sha256":"` + strings.Repeat("0", 64) + `"}}`, "out/"},
		{`{"version":2,"id":"short"}`, "40 hex digits"},
		{`[1,2]`, "JSON object"},
	} {
		_, err := DecodeResult([]byte(c.msg))
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: got %v, want %q", c.msg, err, c.want)
		}
	}
}

func FuzzDecodeJob(f *testing.F) {
	b, _ := json.Marshal(validJob(f))
	f.Add(b)
	f.Add([]byte(`{"version":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		DecodeJob(b, parseArch) // must not panic
		DecodeResult(b)
	})
}

func TestDatasetBundleRoundTrip(t *testing.T) {
	dir := t.TempDir()
	writeIDX(t, dir, 0)
	ds := tinyDataset(t, dir)
	b, err := EncodeDataset(ds)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeDataset(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := EncodeDataset(back)
	if sha(b) != sha(b2) || back.TrainSet.N != ds.TrainSet.N || back.ValSet.N != 40 || back.TestSet.N != 48 {
		t.Fatalf("round trip changed the bundle: %d/%d/%d images", back.TrainSet.N, back.ValSet.N, back.TestSet.N)
	}
	for i := 0; i < len(b); i += len(b) / 13 { // every truncation is an error, never a panic
		if _, err := DecodeDataset(b[:i]); err == nil {
			t.Errorf("truncated at %d: no error", i)
		}
	}
	bad := append([]byte{}, b...)
	bad[len(bad)-1] = 200 // a test label outside the classes
	if _, err := DecodeDataset(bad); err == nil || !strings.Contains(err.Error(), "label 200") {
		t.Errorf("bad label: %v", err)
	}
}

func FuzzDecodeDataset(f *testing.F) {
	f.Add([]byte(bundleMagic + "\x02\x00\x00\x00{}"))
	f.Fuzz(func(t *testing.T, b []byte) { DecodeDataset(b) })
}

func errorsIs(err, target error) bool {
	for err != nil {
		if err == target {
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// TestMalformedMessagesDoNotCrash: garbage jobs and results get errors; the
// worker and the driver go on and finish a real job afterwards.
func TestMalformedMessagesDoNotCrash(t *testing.T) {
	r := startRun(t, t.TempDir(), 0, Options{VirtualDelay: time.Millisecond})
	w := startWorker(t, r.srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	js := r.ev.b.js
	id := strings.Repeat("c", 40)
	for subj, body := range map[string]string{jobSubject + id: "{not json", jobSubject + "garbage": `{"version":2}`} {
		if _, err := js.Publish(ctx, subj, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.Publish(ctx, jobSubject+id+"x", make([]byte, MaxMessage+1)); err == nil {
		t.Error("an oversized job was accepted by the stream")
	}
	r.ev.b.results.Put(ctx, strings.Repeat("d", 40), []byte("\xff garbage"))
	r.ev.b.results.Put(ctx, "x", []byte(`{"version":2}`))
	w.waitFor(t, "malformed job", 20*time.Second)
	// The job with a valid id got a failure result naming the problem.
	var res []byte
	for i := 0; i < 100; i++ {
		if e, err := r.ev.b.results.Get(ctx, id); err == nil {
			res = e.Value()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rm, err := DecodeResult(res); err != nil || !strings.Contains(rm.Error, "malformed job message") {
		t.Errorf("failure result for the malformed job: %+v %v", rm, err)
	}
	jobs := tinyJobs(t, 1)
	out := collect(t, ctx, r.ev, jobs)
	if out[0].Err != nil || out[0].Acc != search.VirtualScore(jobs[0].Arch, tinyInput) {
		t.Fatalf("job after garbage: %+v\n%s", out[0], w.output())
	}
	if st := waitIdle(ctx, r.ev); st.Queued != 0 || st.Running != 0 {
		t.Errorf("garbage left in the queue: %+v", st)
	}
}

func TestServerNeedsATokenBeyondLoopback(t *testing.T) {
	dir := t.TempDir()
	_, err := StartServer(ServerConfig{Listen: "0.0.0.0:0", StoreDir: dir})
	if err == nil || !strings.Contains(err.Error(), "--tls-cert") {
		t.Fatalf("server beyond loopback without TLS: %v", err)
	}
	for _, h := range []string{"127.0.0.1", "localhost", "::1"} {
		if !IsLoopback(h) {
			t.Errorf("%s is loopback", h)
		}
	}
	if IsLoopback("0.0.0.0") || IsLoopback("10.1.2.3") || IsLoopback("example.org") {
		t.Error("non-loopback address taken for loopback")
	}
	// With a token (bound to loopback here: tests never listen beyond it),
	// a client without it, or with a wrong one, is refused.
	srv, err := StartServer(ServerConfig{Listen: "127.0.0.1:0", StoreDir: dir, Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	for _, tok := range []string{"", "wrong"} {
		nc, err := Connect(ClientConfig{URL: srv.URL, User: WorkerUser, Password: tok, Wait: true})
		if err == nil {
			nc.Close()
			t.Errorf("token %q accepted", tok)
		} else if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "authorization failed") {
			t.Errorf("token %q: %v, want authorization failed", tok, err)
		}
	}
	nc, err := Connect(ClientConfig{URL: srv.URL, User: WorkerUser, Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	tf := filepath.Join(dir, "run.token")
	tok, created, err := ReadToken(tf, true)
	if err != nil || !created || len(tok) < 32 {
		t.Fatalf("new token: %q %v %v", tok, created, err)
	}
	if st, _ := os.Stat(tf); st.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v", st.Mode())
	}
	if again, created, err := ReadToken(tf, true); err != nil || created || again != tok {
		t.Errorf("reread token: %q %v %v", again, created, err)
	}
	os.WriteFile(tf, []byte("two words\n"), 0o600)
	if _, _, err := ReadToken(tf, false); err == nil {
		t.Error("a token with a space accepted")
	}
}

// TestTLSWorker: a TLS server with a private CA; a worker process that
// trusts the CA and holds the token trains a job.
func TestTLSWorker(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	srv, err := StartServer(ServerConfig{Listen: "127.0.0.1:0", StoreDir: filepath.Join(dir, "nats"), Token: "tok", TLSCert: cert, TLSKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if !strings.HasPrefix(srv.URL, "tls://") {
		t.Errorf("URL %s", srv.URL)
	}
	if nc, err := Connect(ClientConfig{URL: srv.URL, User: WorkerUser, Password: "tok"}); err == nil { // CA not trusted
		nc.Close()
		t.Error("connected without trusting the server's CA")
	}
	nc, err := srv.Connect("driver")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ev, err := NewEvaluator(ctx, nc, Options{VirtualDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	startWorker(t, srv.URL, "EAS_DIST_TEST_TOKEN=tok", "EAS_DIST_TEST_CA="+cert)
	if out := collect(t, ctx, ev, tinyJobs(t, 1)); out[0].Err != nil {
		t.Fatal(out[0].Err)
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "eas test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}
