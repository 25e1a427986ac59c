// Package templates keeps the message-template catalogue, validates
// template and hsm sends against it and applies the language policies.
package templates
