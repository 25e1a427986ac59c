// Package crypto adapts libsignal's store interfaces to store.Store and
// holds the Signal session, media and backup encryption the coreapp needs.
// It depends only on package store.
package crypto
