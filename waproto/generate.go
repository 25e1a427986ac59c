// Package waproto holds the protobuf messages of the chat protocol that
// waent speaks: the Noise handshake messages, the ClientPayload a primary
// device logs in with, and the server certificate chain.
//
// The .proto files are ours, written from the field numbers in
// protocol.md rather than vendored from WhatsApp's schema: that schema is
// huge and mostly about companion devices, and declaring only what a
// primary device uses keeps the generated code small. Fields we do not
// declare still round-trip as unknown fields. The generated *.pb.go files
// are committed so that building waent needs no protobuf compiler; rerun
// `go generate ./waproto` after editing a .proto (it needs protoc and
// protoc-gen-go on PATH).
package waproto

//go:generate protoc --go_out=. --go_opt=paths=source_relative handshake.proto clientpayload.proto cert.proto
