// Package conformance holds one test suite per store port. Every adapter's
// tests run every suite that applies, so the SQLite and Postgres stores are
// held to the same sentences the ports document.
//
// It imports core, testing and testify; only _test.go files import it.
package conformance
