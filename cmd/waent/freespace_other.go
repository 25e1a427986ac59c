//go:build !(linux || darwin || freebsd)

package main

import "errors"

// freeBytes is not implemented here; the doctor reports a warning.
func freeBytes(string) (uint64, error) { return 0, errors.ErrUnsupported }
