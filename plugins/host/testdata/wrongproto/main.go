// Command wrongproto completes the eas handshake cookie but offers only
// protocol version 99, so a host must refuse it.
package main

import (
	"github.com/hashicorp/go-plugin"

	"github.com/eas-go/eas/plugins/internal/wire"
)

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  plugin.HandshakeConfig{MagicCookieKey: wire.MagicCookieKey, MagicCookieValue: wire.MagicCookieValue},
		VersionedPlugins: map[int]plugin.PluginSet{99: {}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}
