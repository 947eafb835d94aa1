// Package host runs plugins for eas: it discovers plugin executables,
// launches them with hashicorp/go-plugin over gRPC (built-ins by re-executing
// easrun, or in-process when asked), and hands back sdk.Transform and
// sdk.Controller proxies that enforce per-call deadlines, validate every
// answer (architectures, weight shapes against ir.Lower(arch).Params(),
// finite weights, actions inside the declared space) and restart a plugin
// that panicked, exited or hung, transparently on the next call. Every
// failure is a *PluginError naming the plugin, the operation and what the
// plugin did, so the caller can mark just that network as failed.
//
// It imports plugins/sdk, plugins/internal/wire and core/ir, core/tensor; it
// must not import transforms, controllers, core/search or the CLI (built-ins
// reach it through Options.Builtins).
package host
