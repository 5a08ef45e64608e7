package kernel

import "github.com/bayhq/bay/internal/testenv"

// skipf skips for what is missing on this machine, or fails under
// BAY_TEST_STRICT (testenv.Skipf).
var skipf = testenv.Skipf
