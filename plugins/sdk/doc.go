// Package sdk is the public API for plugin authors: the Transform and
// Controller interfaces, the values they exchange, and Serve, which turns a
// plugin's main into a go-plugin gRPC server. Authors import this package
// (plus core/ir and core/tensor for architectures and weights) and nothing
// else of eas; they never see protobuf or go-plugin types.
package sdk
