package core_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

func TestProfileKey_ChangesWithTheRuntimeOnly(t *testing.T) {
	base := core.Profile{
		ID: "p", Image: "ship:latest", RuntimeType: core.RuntimeTypeShip, RuntimePort: 8123,
		Capabilities: []string{"python"}, IdleTimeout: time.Minute, Env: map[string]string{"A": "1"},
	}
	key := core.ProfileKey(&base)
	require.NotEmpty(t, key)

	same := base
	same.IdleTimeout, same.IdlePause, same.WarmPool = time.Hour, time.Second, 8
	require.Equal(t, key, core.ProfileKey(&same), "when a runtime stops or how many are kept does not retire entries")

	for name, change := range map[string]func(p *core.Profile){
		"image":  func(p *core.Profile) { p.Image = "ship:data" },
		"env":    func(p *core.Profile) { p.Env = map[string]string{"A": "2"} },
		"memory": func(p *core.Profile) { p.MemoryBytes = 1 << 30 },
		"caps":   func(p *core.Profile) { p.Capabilities = []string{"python", "shell"} },
		"sudo":   func(p *core.Profile) { p.AllowSudo = true },
	} {
		other := base
		change(&other)
		require.NotEqual(t, key, core.ProfileKey(&other), "a change of %s retires the entries", name)
	}
}
