// Package sdk is the public API for plugin authors: the Transform and
// Controller interfaces and the values they exchange (requests and results
// are structs, so later protocol versions can add fields without breaking
// plugins). It holds types only: no gRPC, no go-plugin, so the search core
// and every importer stay free of them. A plugin's main serves its
// implementations with plugins/sdk/serve.
//
// Authors import this package, plugins/sdk/serve, and core/ir and
// core/tensor for architectures and weights; they never see protobuf or
// go-plugin types.
package sdk
