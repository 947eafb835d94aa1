// Package wire is the protobuf and gRPC glue between eas hosts and plugins:
// the generated code for eas.proto, the handshake constants, the one
// conversion layer between plugins/sdk values and the generated messages
// (used by both the serving side, plugins/sdk/serve, and the host,
// plugins/host), and chunking of weights and byte blobs over streams
// (ChunkBytes per message, so no gRPC message limit is ever reached,
// whatever the model size).
//
// It imports plugins/sdk, core/ir and core/tensor; plugins/sdk must never
// import it (the SDK is types only, free of gRPC and go-plugin).
package wire
