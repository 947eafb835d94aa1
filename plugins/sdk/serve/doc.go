// Package serve turns a plugin executable's main into a plugin server: it
// speaks the eas plugin protocol (hashicorp/go-plugin over gRPC, version
// sdk.ProtocolVersion) to the host that started it, converting messages with
// plugins/internal/wire, the same conversion layer the host uses. Keeping it
// apart from plugins/sdk keeps gRPC out of everything that only needs the
// types (the split of terraform-plugin-go's tfprotov5 and tf5server).
package serve
