// Package wire is the protobuf and gRPC glue between eas hosts and plugins:
// the generated code for eas.proto, conversions between the generated
// messages and core/ir / core/tensor values, and chunking of weights and
// byte blobs over streams (ChunkBytes per message, so no gRPC message limit
// is ever reached, whatever the model size).
//
// It must not import plugins/sdk (the SDK imports wire for Serve) nor
// anything above core/ir and core/tensor; sdk-type glue lives in sdk (server
// side) and plugins/host (client side).
package wire
