package core

import (
	"slices"
	"strconv"
	"time"
)

// Capabilities a profile may grant and the API uses.
const (
	CapabilityPython     = "python"
	CapabilityShell      = "shell"
	CapabilityFilesystem = "filesystem"
)

// Runtime types a profile's containers may have (browser.md §1.2). Each
// type has its own client (SandboxServiceOptions.RuntimeClients); Ship's is
// always there.
const (
	RuntimeTypeShip    = "ship"
	RuntimeTypeBrowser = "browser"
)

// Chromium sandbox modes of a browser container (browser.md §6): auto
// falls back to --no-sandbox where the host forbids unprivileged user
// namespaces, require fails readiness instead, off always disables it.
const (
	ChromiumSandboxAuto    = "auto"
	ChromiumSandboxRequire = "require"
	ChromiumSandboxOff     = "off"
)

// Profile is one entry of the configured menu of runtime specifications.
// Profiles live in configuration only; a sandbox stores the profile id and
// every use reads the profile from the current configuration.
//
// A profile runs one or more containers (browser.md §1): Containers, the
// first of which owns the session's network namespace. Image, RuntimeType,
// RuntimePort and the limits are the first container's, and Capabilities
// the union of every container's, in order. A profile built without
// Containers (the single-image form) has one container made of those
// fields: ContainerList.
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
	// IdlePause is how long a running sandbox stays idle before its
	// containers are paused (frozen, memory kept) until the next call; zero
	// never pauses. When set it is shorter than IdleTimeout, which still
	// reclaims the paused containers.
	IdlePause time.Duration
	Env       map[string]string
	AllowSudo bool
	// Network is the profile's egress policy; the zero value is
	// DefaultNetworkMode with nothing extra allowed. One policy holds for
	// the whole session: its containers share one network namespace.
	Network NetworkPolicy
	// Containers are the session's containers in start order; the first
	// is the network owner. Empty means the single container of the
	// fields above.
	Containers []ContainerProfile
	// WarmPool is how many runtimes of the profile Bay keeps started ahead
	// of any sandbox (warm_pool.size); zero keeps none.
	WarmPool int
}

// ContainerProfile is one container of a profile (browser.md §1.1).
type ContainerProfile struct {
	// Name is unique within the profile (^[a-z][a-z0-9-]{0,15}$); a
	// single-image profile's container is named after its runtime type.
	Name        string
	RuntimeType string
	Image       string
	// Port is where the container's runtime listens; the containers of a
	// session share one network namespace, so ports are unique per profile.
	Port   int
	CPUs   float64
	Memory string
	// MemoryBytes is Memory parsed; zero means unlimited.
	MemoryBytes int64
	// PidsLimit zero means DefaultPidsLimit.
	PidsLimit int64
	// Shm is the configured size of /dev/shm, verbatim ("" = the runtime's
	// default); ShmBytes its parsed value.
	Shm      string
	ShmBytes int64
	// Env is the container's own environment, over the profile's.
	Env map[string]string
	// Capabilities are the keys this container serves; each capability of
	// a profile belongs to one container.
	Capabilities []string
	// Browser holds the settings of a browser container; nil otherwise.
	Browser *BrowserSettings
}

// BrowserSettings are a browser container's named settings, handed to its
// runtime as BROWSERD_* variables (browser.md §1.1).
type BrowserSettings struct {
	// ChromiumSandbox is one of ChromiumSandboxAuto, ChromiumSandboxRequire
	// and ChromiumSandboxOff.
	ChromiumSandbox string
	// PersistProfile keeps the browser profile on the Locker across stops.
	PersistProfile bool
	ViewportWidth  int
	ViewportHeight int
	Locale         string
	// UserAgent replaces Chromium's when not empty.
	UserAgent string
}

// NetworkMode returns the profile's network mode, DefaultNetworkMode when
// it sets none.
func (p *Profile) NetworkMode() NetworkMode {
	if p.Network.Mode == "" {
		return DefaultNetworkMode
	}
	return p.Network.Mode
}

// ContainerList returns the profile's containers, the network owner first:
// Containers, or the one container a single-image profile describes, named
// after its runtime type.
func (p *Profile) ContainerList() []ContainerProfile {
	if len(p.Containers) > 0 {
		return p.Containers
	}
	name := p.RuntimeType
	if name == "" {
		name = RuntimeTypeShip
	}
	return []ContainerProfile{{
		Name: name, RuntimeType: p.RuntimeType, Image: p.Image, Port: RuntimePortOrDefault(p.RuntimePort),
		CPUs: p.CPUs, Memory: p.Memory, MemoryBytes: p.MemoryBytes, PidsLimit: p.PidsLimit,
		Capabilities: p.Capabilities,
	}}
}

// ContainerFor returns the profile's container that serves capability, or
// nil when none does.
func (p *Profile) ContainerFor(capability string) *ContainerProfile {
	list := p.ContainerList()
	for i := range list {
		if slices.Contains(list[i].Capabilities, capability) {
			return &list[i]
		}
	}
	return nil
}

// HasRuntimeType reports whether a container of the profile has runtime
// type t.
func (p *Profile) HasRuntimeType(t string) bool {
	for _, c := range p.ContainerList() {
		if c.RuntimeType == t {
			return true
		}
	}
	return false
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

// PidsLimitOrDefault returns the container's process-count limit, or
// DefaultPidsLimit when it gives none.
func (c *ContainerProfile) PidsLimitOrDefault() int64 {
	if c.PidsLimit <= 0 {
		return DefaultPidsLimit
	}
	return c.PidsLimit
}

// BrowserEnv returns the variables that hand a browser container its
// settings (browser.md §1.3), nil for any other container.
func (c *ContainerProfile) BrowserEnv() map[string]string {
	if c.RuntimeType != RuntimeTypeBrowser {
		return nil
	}
	b := c.Browser
	if b == nil {
		b = &BrowserSettings{}
	}
	mode := b.ChromiumSandbox
	if mode == "" {
		mode = ChromiumSandboxAuto
	}
	env := map[string]string{
		"BROWSERD_PORT":             strconv.Itoa(RuntimePortOrDefault(c.Port)),
		"BROWSERD_CHROMIUM_SANDBOX": mode,
		"BROWSERD_PERSIST_PROFILE":  strconv.FormatBool(b.PersistProfile),
	}
	if b.ViewportWidth > 0 && b.ViewportHeight > 0 {
		env["BROWSERD_VIEWPORT_WIDTH"] = strconv.Itoa(b.ViewportWidth)
		env["BROWSERD_VIEWPORT_HEIGHT"] = strconv.Itoa(b.ViewportHeight)
	}
	if b.Locale != "" {
		env["BROWSERD_LOCALE"] = b.Locale
	}
	if b.UserAgent != "" {
		env["BROWSERD_USER_AGENT"] = b.UserAgent
	}
	return env
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
