package kernel

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/ship/runas"
)

// BenchmarkManager_Exec measures one trivial execution round trip through
// the ZeroMQ client against a real kernel (no HTTP).
func BenchmarkManager_Exec(b *testing.B) {
	python := FindPython()
	if !HasIPyKernel(python) {
		b.Skip("python3 with ipykernel not found")
	}
	ws := b.TempDir()
	m := NewManager(Config{Python: python, Workspace: ws, StateDir: b.TempDir(), Identity: runas.Current(ws)})
	b.Cleanup(m.Close)
	ctx := context.Background()
	_, err := m.Exec(ctx, "1", false, time.Minute)
	require.NoError(b, err)
	for b.Loop() {
		res, err := m.Exec(ctx, "1+1", false, time.Minute)
		if err != nil || res.Text != "2" {
			b.Fatalf("exec: %v %+v", err, res)
		}
	}
}
