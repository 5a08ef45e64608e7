// Package testenv holds what the tests of several packages need about the
// machine they run on. Only test files import it.
package testenv

import (
	"os"
	"testing"
)

// Skipf skips t for what is missing on this machine, or fails it when
// BAY_TEST_STRICT is set: the full test run (./task test, CI) must skip
// nothing, while a quick local loop may.
func Skipf(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("BAY_TEST_STRICT") != "" {
		t.Fatalf("BAY_TEST_STRICT forbids skipping: "+format, args...)
	}
	t.Skipf(format, args...)
}
