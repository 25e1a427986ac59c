// Package xcheck cross-checks waent's binary node codec (conn/wabin)
// against whatsmeow's, the codec real WhatsApp Web clients have used for
// years (protocol.md §8). It is a separate module so that the main module
// never requires whatsmeow (MPL-2.0) or its dependencies; run its tests
// from this directory with go test ./... .
package xcheck
