// Package waE2E holds the end-to-end encrypted chat message: the protobuf a
// `<message>` stanza's `<enc>` payload decrypts to (protocol.md §3, §5).
//
// waE2E.proto is our own file, not WhatsApp's schema: it uses WhatsApp's
// real field numbers but declares only the content a business client sends
// or receives (text, media, location, contacts, templates, interactive
// buttons and lists and their replies, reactions, revokes) and the wrappers
// a phone puts around them. WhatsApp's full schema is thousands of lines,
// mostly about features a business account never touches. Fields we do not
// declare are kept as unknown fields and re-encoded unchanged, so a message
// passes through waent without loss. The generated waE2E.pb.go is committed
// so that building waent needs no protobuf compiler; rerun
// `go generate ./waproto/waE2E` after editing the .proto (it needs protoc
// and protoc-gen-go on PATH).
package waE2E

//go:generate protoc --go_out=. --go_opt=paths=source_relative waE2E.proto
