package dist

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/eas-go/eas/core/engine"
)

// ThisBuild describes this process: module version and commit (from the
// Go build information), engine, device and thread count.
func ThisBuild(be engine.Backend, device string, threads int) Build {
	b := Build{Module: "github.com/eas-go/eas", Version: "(devel)", Go: runtime.Version(), Engine: engine.Default, Device: device, Threads: threads}
	if be != nil {
		b.Engine = be.Name()
	}
	if b.Device == "" {
		b.Device = "cpu"
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		b.Module, b.Version = bi.Main.Path, bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					b.Commit += "+modified"
				}
			}
		}
	}
	return b
}

func (b Build) String() string {
	c := b.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	return fmt.Sprintf("easrun %s %s, %s, engine %s on %s, %d threads", b.Version, c, b.Go, b.Engine, b.Device, b.Threads)
}
