package core_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

func TestSizeEnforcement(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		mode              core.SizeEnforcement
		explicit, implied bool
	}{
		{core.EnforceNone, false, false},
		{core.EnforceExplicit, true, false},
		{core.EnforceAll, true, true},
	} {
		require.Equal(t, c.explicit, c.mode.Enforces(true), c.mode)
		require.Equal(t, c.implied, c.mode.Enforces(false), c.mode)
	}
}
