package kernel

import (
	"os"
	"testing"
)

// skipf skips t for what is missing on this machine, or fails it when
// BAY_TEST_STRICT is set: the full test run must skip nothing.
func skipf(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("BAY_TEST_STRICT") != "" {
		t.Fatalf("BAY_TEST_STRICT forbids skipping: "+format, args...)
	}
	t.Skipf(format, args...)
}
