// Package httpapi serves the On-Premises /v1 REST API over a waent
// Client: JSON in and out, authentication, the meta/errors envelope and
// the error-code to HTTP-status mapping. It holds no business logic.
package httpapi
