//go:build unix

package dashboard

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"syscall"
)

func idOf(st os.FileInfo) fileID {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return fileID{dev: uint64(s.Dev), ino: uint64(s.Ino), ok: true}
	}
	return fileID{}
}

// procLocksHold looks the lock file's inode up in /proc/locks; known is
// false when that file cannot be read (not Linux).
func procLocksHold(st os.FileInfo) (held, known bool) {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return false, false
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return false, false
	}
	defer f.Close()
	dev := uint64(s.Dev)
	major := (dev>>8)&0xfff | (dev>>32)&^0xfff
	minor := dev&0xff | (dev>>12)&^0xff
	want := fmt.Sprintf("%02x:%02x:%d", major, minor, uint64(s.Ino))
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "1: FLOCK  ADVISORY  WRITE 1234 08:01:131090 0 EOF"; blocked
		// waiters are marked "->" and hold nothing.
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] == "->" || fields[1] != "FLOCK" {
			continue
		}
		if sameLockID(fields[5], want) {
			return true, true
		}
	}
	return false, true
}
