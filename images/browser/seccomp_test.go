package browserimage

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type profile struct {
	DefaultAction string `json:"defaultAction"`
	Syscalls      []struct {
		Names    []string        `json:"names"`
		Action   string          `json:"action"`
		Args     json.RawMessage `json:"args"`
		Includes json.RawMessage `json:"includes"`
		Excludes json.RawMessage `json:"excludes"`
	} `json:"syscalls"`
}

// TestSeccomp: the profile parses, denies by default like Docker's, and
// allows clone, unshare and chroot without conditions (browser.md §6).
func TestSeccomp(t *testing.T) {
	t.Parallel()
	var p profile
	require.NoError(t, json.Unmarshal([]byte(Seccomp), &p))
	require.Equal(t, "SCMP_ACT_ERRNO", p.DefaultAction)
	require.Greater(t, len(p.Syscalls), 10, "Docker's default rules are there")
	found := false
	for _, s := range p.Syscalls {
		if slices.Equal(s.Names, []string{"clone", "unshare", "chroot"}) {
			found = true
			require.Equal(t, "SCMP_ACT_ALLOW", s.Action)
			require.Empty(t, s.Args, "unconditional: no argument filter")
			require.Empty(t, s.Includes, "unconditional: for every capability set")
			require.Empty(t, s.Excludes)
		}
	}
	require.True(t, found, "the rule for Chromium's sandbox")
	// Nothing else is opened up: the rest is Docker's default, where
	// unshare is allowed only with CAP_SYS_ADMIN.
	n := 0
	for _, s := range p.Syscalls {
		if slices.Contains(s.Names, "unshare") {
			n++
		}
	}
	require.Equal(t, 2, n)
	require.True(t, strings.HasPrefix(SecurityOpt(), "seccomp={"))
}
