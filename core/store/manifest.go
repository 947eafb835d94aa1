package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ManifestName is the file in an experiment's run directory that records
// what the run is made from.
const ManifestName = "run.json"

// Manifest records the SHA-256 of the files a run is made from, taken when
// the run wrote them, so a resume can tell them from edited or foreign
// copies: the run's own experiment.eas and its start network.
type Manifest struct {
	Experiment string `json:"experiment_sha256"`
	Start      string `json:"start_sha256,omitempty"`
}

// ReadManifest reads dir's manifest; ok is false when there is none.
func ReadManifest(dir string) (m Manifest, ok bool, err error) {
	path := filepath.Join(dir, ManifestName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return m, false, nil
	}
	if err != nil {
		return m, false, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, false, fmt.Errorf("%s: %v", path, err)
	}
	return m, true, nil
}

// WriteManifest replaces dir's manifest atomically.
func WriteManifest(dir string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, ManifestName), append(b, '\n'))
}

// SHA256 is the hex SHA-256 of b.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// VerifyFile checks that path's content has the recorded hash want; what
// names the file's role in the message.
func VerifyFile(path, want, what string) error {
	if want == "" {
		return fmt.Errorf("%s: no hash of the %s was recorded when the run made it (%s): it was not made by this run; refusing to use it",
			path, what, ManifestName)
	}
	got, err := FileSHA256(path)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s: the %s differs from the one this run made (sha256 %.12s..., recorded %.12s... in %s): it was replaced or damaged; refusing to use it",
			path, what, got, want, ManifestName)
	}
	return nil
}

// FileSHA256 is the hex SHA-256 of path's content.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// VerifyRecorded is VerifyFile for a hash a record may lack (records
// written before hashes were kept): an empty want passes.
func VerifyRecorded(path, want, what string) error {
	if want == "" {
		return nil
	}
	return VerifyFile(path, want, what)
}
