package wire

// The go-plugin handshake: a host only talks to executables started with
// this cookie in their environment, and both sides must agree on
// sdk.ProtocolVersion. These values never change within a protocol version.
const (
	MagicCookieKey   = "EAS_PLUGIN_MAGIC_COOKIE"
	MagicCookieValue = "3c1f7e0a-eas-network-transformation-plugin"
	// PluginTransform and PluginController are the go-plugin set keys.
	PluginTransform  = "transform"
	PluginController = "controller"
)

// PanicPrefix starts the status message of a call in which the plugin
// panicked; hosts treat such a plugin as broken and restart it.
const PanicPrefix = "plugin panicked: "
