package cli

import (
	"encoding/json"
	"path/filepath"
	"time"

	"github.com/eas-go/eas/core/dashboard"
	"github.com/eas-go/eas/core/dist"
	"github.com/eas-go/eas/core/store"
)

// writeDistStatus publishes the distributed run's scheduling state in its
// experiment folder (dashboard.DistFile), where the dashboard's workers
// page reads it. A failed write only costs the page its freshness.
func writeDistStatus(expDir string, st dist.Status) {
	b, err := json.Marshal(struct {
		Time   time.Time   `json:"time"`
		Status dist.Status `json:"status"`
	}{time.Now().UTC(), st})
	if err == nil {
		store.WriteFileAtomic(filepath.Join(expDir, dashboard.DistFile), b)
	}
}
