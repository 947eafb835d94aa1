// Package builtin is the one registry of eas's own transforms and
// controllers. Each is listed once, by its constructor; every name comes from
// the plugin's own Info (Describe), so the DSL's known names (the CLI hands
// them to dsl.ParseExperiment), `easrun plugin list`, `easrun __serve`, the
// plugin host's built-ins and the controllers' action encoding (Info.Choice)
// cannot drift apart. The built-ins are written against the public plugin SDK
// like any third-party plugin.
//
// It imports transforms/*, controllers/* and plugins/sdk; dsl and core must
// not import it (they would pull in every implementation).
package builtin
