package wire

// The generated files are committed; CI does not regenerate them.
//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative eas.proto
