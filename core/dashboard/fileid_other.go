//go:build !unix

package dashboard

import "os"

func idOf(os.FileInfo) fileID { return fileID{} }

func procLocksHold(os.FileInfo) (held, known bool) { return false, false }
