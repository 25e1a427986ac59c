// Package gc garbage-collects delivered messages and unused media in
// bounded batches, at jittered intervals and on request.
package gc
