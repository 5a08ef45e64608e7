package core

import "time"

// Capabilities a profile may grant and the API uses.
const (
	CapabilityPython     = "python"
	CapabilityShell      = "shell"
	CapabilityFilesystem = "filesystem"
)

// RuntimeTypeShip is the only runtime type Bay implements.
const RuntimeTypeShip = "ship"

// Profile is one entry of the configured menu of runtime specifications.
// Profiles live in configuration only; a sandbox stores the profile id and
// every use reads the profile from the current configuration.
type Profile struct {
	ID          string
	Image       string
	RuntimeType string
	RuntimePort int
	CPUs        float64
	// Memory is the configured string, kept verbatim for display;
	// MemoryBytes is its parsed value.
	Memory       string
	MemoryBytes  int64
	PidsLimit    int64
	Capabilities []string
	IdleTimeout  time.Duration
	Env          map[string]string
	AllowSudo    bool
	// Network is the profile's egress policy; the zero value is
	// DefaultNetworkMode with nothing extra allowed.
	Network NetworkPolicy
}

// NetworkMode returns the profile's network mode, DefaultNetworkMode when
// it sets none.
func (p *Profile) NetworkMode() NetworkMode {
	if p.Network.Mode == "" {
		return DefaultNetworkMode
	}
	return p.Network.Mode
}

// RuntimePortOrDefault returns port, or DefaultRuntimePort when it is not
// positive (a profile whose runtime_port is null or 0). The configuration
// and every runtime apply the fallback through it.
func RuntimePortOrDefault(port int) int {
	if port <= 0 {
		return DefaultRuntimePort
	}
	return port
}

// PidsLimitOrDefault returns the profile's process-count limit, or
// DefaultPidsLimit when it gives none.
func (p *Profile) PidsLimitOrDefault() int64 {
	if p.PidsLimit <= 0 {
		return DefaultPidsLimit
	}
	return p.PidsLimit
}

// HasCapability reports whether the profile lists capability c.
func (p *Profile) HasCapability(c string) bool {
	for _, have := range p.Capabilities {
		if have == c {
			return true
		}
	}
	return false
}
