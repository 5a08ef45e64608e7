package main

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bayhq/bay/core"
)

// profileDocument is one entry of profiles (config.md §2.8): either the
// single-image form (image, runtime_type, runtime_port, resources,
// capabilities) or containers (browser.md §1.1), not both.
type profileDocument struct {
	ID           string            `yaml:"id"`
	Image        string            `yaml:"image"`
	RuntimeType  string            `yaml:"runtime_type"`
	RuntimePort  int               `yaml:"runtime_port"`
	Resources    resourcesDocument `yaml:"resources"`
	Capabilities []string          `yaml:"capabilities"`
	IdleTimeout  int64             `yaml:"idle_timeout"`
	IdlePause    int64             `yaml:"idle_pause"` // 0 (the default) never pauses
	// WarmPool keeps runtimes started ahead of any sandbox; none by default.
	WarmPool  warmPoolDocument  `yaml:"warm_pool"`
	Env       map[string]string `yaml:"env"`
	AllowSudo bool              `yaml:"allow_sudo"`
	// Network is nil when the entry sets none.
	Network *networkDocument `yaml:"network"`
	// Containers, when the entry gives them, replace the single-image keys.
	Containers []containerDocument `yaml:"containers"`
	// given holds the keys the entry gave (UnmarshalYAML).
	given map[string]bool
}

// warmPoolDocument is a profile's warm_pool.
type warmPoolDocument struct {
	Size int `yaml:"size"`
}

// maxWarmPool bounds warm_pool.size: each entry holds a started runtime.
const maxWarmPool = 256

type resourcesDocument struct {
	CPUs   float64 `yaml:"cpus"`
	Memory string  `yaml:"memory"`
	Pids   int64   `yaml:"pids"`
}

// singleImageKeys are the keys of the single-image form: with containers,
// each container gives its own.
var singleImageKeys = []string{"image", "runtime_type", "runtime_port", "resources", "capabilities"}

// containerDocument is one entry of a profile's containers. Its defaults
// depend on its runtime_type (newContainerDocument).
type containerDocument struct {
	Name        string `yaml:"name"`
	RuntimeType string `yaml:"runtime_type"`
	Image       string `yaml:"image"`
	// Port and its alias RuntimePort are nil when not given.
	Port         *int                       `yaml:"port"`
	RuntimePort  *int                       `yaml:"runtime_port"`
	Resources    containerResourcesDocument `yaml:"resources"`
	Env          map[string]string          `yaml:"env"`
	Capabilities []string                   `yaml:"capabilities"`
	// Browser is nil unless given, and only a browser container's.
	Browser *browserDocument `yaml:"browser"`
}

type containerResourcesDocument struct {
	CPUs   float64 `yaml:"cpus"`
	Memory string  `yaml:"memory"`
	Pids   int64   `yaml:"pids"`
	// Shm is the size of /dev/shm; "" is Docker's default (64m).
	Shm string `yaml:"shm"`
}

// browserDocument is a browser container's settings (browser.md §1.1).
type browserDocument struct {
	ChromiumSandbox string           `yaml:"chromium_sandbox"`
	PersistProfile  bool             `yaml:"persist_profile"`
	Viewport        viewportDocument `yaml:"viewport"`
	Locale          string           `yaml:"locale"`
	UserAgent       string           `yaml:"user_agent"`
}

type viewportDocument struct {
	Width  int `yaml:"width"`
	Height int `yaml:"height"`
}

// capabilityBrowser is the capability of a browser container.
const capabilityBrowser = "browser"

// Default ports of each runtime type (ship.md, browser.md §5.1).
const (
	shipPort    = 8123
	browserPort = 8124
)

// networkDocument is a profile's network: a mapping, or a bare mode.
type networkDocument struct {
	Mode        string   `yaml:"mode"`
	Allow       []string `yaml:"allow"`
	AllowBayAPI bool     `yaml:"allow_bay_api"`
}

// shorthand names the key a bare scalar stands for: "network: none" is
// "network: {mode: none}".
func (networkDocument) shorthand() string { return "mode" }

// newProfileDocument returns a profile entry holding every default of
// config.md §2.8, the start of each configured profile.
func newProfileDocument(id string) profileDocument {
	return profileDocument{
		ID: id, Image: "ship:latest", RuntimeType: core.RuntimeTypeShip, RuntimePort: shipPort,
		Resources:    resourcesDocument{CPUs: 1, Memory: "1g", Pids: core.DefaultPidsLimit},
		Capabilities: []string{core.CapabilityFilesystem, core.CapabilityShell, core.CapabilityPython},
		IdleTimeout:  1800, Env: map[string]string{},
	}
}

// newContainerDocument returns a container entry holding the defaults of
// its runtime type (browser.md §1.2).
func newContainerDocument(runtimeType string) containerDocument {
	if runtimeType == core.RuntimeTypeBrowser {
		return containerDocument{
			Name: core.RuntimeTypeBrowser, RuntimeType: runtimeType, Image: "bay-browser:latest",
			Resources:    containerResourcesDocument{CPUs: 1, Memory: "1g", Pids: 1024, Shm: "256m"},
			Capabilities: []string{capabilityBrowser}, Env: map[string]string{},
		}
	}
	return containerDocument{
		Name: core.RuntimeTypeShip, RuntimeType: runtimeType, Image: "ship:latest",
		Resources:    containerResourcesDocument{CPUs: 1, Memory: "1g", Pids: core.DefaultPidsLimit},
		Capabilities: []string{core.CapabilityFilesystem, core.CapabilityShell, core.CapabilityPython},
		Env:          map[string]string{},
	}
}

// newBrowserDocument returns a browser container's default settings.
func newBrowserDocument() browserDocument {
	return browserDocument{
		ChromiumSandbox: core.ChromiumSandboxAuto, PersistProfile: true,
		Viewport: viewportDocument{Width: 1280, Height: 800}, Locale: "en-US",
	}
}

// builtinProfiles are the profiles when the configuration lists none. Only
// the default profile's images are built by ./task run; the others' are
// built on demand (images/build.sh).
func builtinProfiles() []profileDocument {
	data := newProfileDocument("python-data")
	data.Image, data.Resources.CPUs, data.Resources.Memory = "ship:data", 2, "4g"
	browser := newProfileDocument("browser-python")
	browser.Containers = []containerDocument{
		newContainerDocument(core.RuntimeTypeShip), newContainerDocument(core.RuntimeTypeBrowser),
	}
	return []profileDocument{newProfileDocument(core.DefaultProfileID), data, browser}
}

// UnmarshalYAML decodes an entry over the defaults, so that what it leaves
// out keeps its default, and notes the keys it gives.
func (p *profileDocument) UnmarshalYAML(n *yaml.Node) error {
	*p = newProfileDocument("")
	type plain profileDocument // without this method
	if err := n.Decode((*plain)(p)); err != nil {
		return err
	}
	p.given = keysOf(n)
	return nil
}

// UnmarshalYAML decodes a container entry over the defaults of its
// runtime_type.
func (c *containerDocument) UnmarshalYAML(n *yaml.Node) error {
	var head struct {
		RuntimeType string `yaml:"runtime_type"`
	}
	if err := n.Decode(&head); err != nil {
		return err
	}
	*c = newContainerDocument(head.RuntimeType)
	type plain containerDocument // without this method
	return n.Decode((*plain)(c))
}

// UnmarshalYAML decodes browser settings over their defaults.
func (b *browserDocument) UnmarshalYAML(n *yaml.Node) error {
	*b = newBrowserDocument()
	type plain browserDocument // without this method
	return n.Decode((*plain)(b))
}

// keysOf returns the keys of a mapping node.
func keysOf(n *yaml.Node) map[string]bool {
	keys := map[string]bool{}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			keys[n.Content[i].Value] = true
		}
	}
	return keys
}

// profiles maps the profile entries onto core.Profile; nil (profiles: null)
// stays nil.
func profiles(docs []profileDocument) ([]core.Profile, []string) {
	if docs == nil {
		return nil, nil
	}
	var errs []string
	out := make([]core.Profile, 0, len(docs))
	for i, d := range docs {
		p, perrs := d.profile()
		for _, e := range perrs {
			errs = append(errs, fmt.Sprintf("[%d]: %s", i, e))
		}
		out = append(out, p)
	}
	return out, errs
}

// profile maps one entry onto core.Profile. Every profile Bay serves is
// made here, with its Containers: the single-image form makes one, named
// after its runtime type.
func (d profileDocument) profile() (core.Profile, []string) {
	var errs []string
	bad := func(key, format string, args ...any) {
		errs = append(errs, key+": "+fmt.Sprintf(format, args...))
	}
	p := core.Profile{
		ID: d.ID, Image: d.Image, RuntimeType: d.RuntimeType,
		// null or 0 falls back to core.DefaultRuntimePort, as the reference did.
		RuntimePort: core.RuntimePortOrDefault(d.RuntimePort),
		CPUs:        d.Resources.CPUs, Memory: d.Resources.Memory, PidsLimit: d.Resources.Pids,
		Capabilities: d.Capabilities, IdleTimeout: time.Duration(d.IdleTimeout) * time.Second,
		Env: d.Env, AllowSudo: d.AllowSudo, IdlePause: time.Duration(d.IdlePause) * time.Second,
		WarmPool: d.WarmPool.Size,
	}
	if p.Capabilities == nil {
		p.Capabilities = []string{}
	}
	if p.Env == nil {
		p.Env = map[string]string{}
	}
	if d.ID == "" {
		errs = append(errs, "id is required")
	}
	if d.IdleTimeout < 1 {
		bad("idle_timeout", "want a positive number of seconds, got %d", d.IdleTimeout)
	}
	switch {
	case d.IdlePause < 0:
		bad("idle_pause", "want a number of seconds, 0 (never) or more, got %d", d.IdlePause)
	case d.IdlePause > 0 && d.IdlePause >= d.IdleTimeout:
		bad("idle_pause", "%d is not less than idle_timeout (%d): the runtime would be reclaimed before it is paused", d.IdlePause, d.IdleTimeout)
	}
	if d.WarmPool.Size < 0 || d.WarmPool.Size > maxWarmPool {
		bad("warm_pool.size", "want 0 (no pool) to %d, got %d", maxWarmPool, d.WarmPool.Size)
	}
	if d.Network != nil {
		var nerrs []string
		p.Network, nerrs = d.Network.policy()
		for _, e := range nerrs {
			bad("network", "%s", e)
		}
	}
	if d.given["containers"] || d.Containers != nil {
		for _, k := range singleImageKeys {
			if d.given[k] {
				bad(k, "not allowed beside containers: give it in each container")
			}
		}
		cerrs := d.containers(&p)
		errs = append(errs, cerrs...)
		return p, errs
	}

	if d.Image == "" {
		bad("image", "want a non-empty string")
	}
	if d.RuntimeType == "" {
		bad("runtime_type", "want a non-empty string")
	}
	if d.RuntimePort < 0 || d.RuntimePort > 65535 {
		bad("runtime_port", "%d is not a port", d.RuntimePort)
	}
	if p.CPUs <= 0 {
		bad("resources.cpus", "must be positive")
	}
	var err error
	if p.MemoryBytes, err = parseMemory(p.Memory); err != nil {
		bad("resources.memory", "%v", err)
	}
	if p.PidsLimit < 1 {
		bad("resources.pids", "want a positive integer, got %d", p.PidsLimit)
	}
	p.Containers = p.ContainerList()
	return p, errs
}

// containerNameRE is what a container's name must match (browser.md §1.2).
var containerNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,15}$`)

// maxContainers bounds a profile's containers.
const maxContainers = 4

// containers maps the entry's containers onto p.Containers and sets the
// profile's summary fields from them: the first's image, runtime type,
// port and limits, and the union of the capabilities in order. It returns
// every problem of browser.md §1.2.
func (d profileDocument) containers(p *core.Profile) []string {
	var errs []string
	bad := func(key, format string, args ...any) {
		errs = append(errs, key+": "+fmt.Sprintf(format, args...))
	}
	if n := len(d.Containers); n < 1 || n > maxContainers {
		bad("containers", "want 1 to %d containers, got %d", maxContainers, n)
	}
	names := map[string]int{}
	ports := map[int]string{}
	owners := map[string]string{} // capability → container name
	p.Containers = make([]core.ContainerProfile, 0, len(d.Containers))
	p.Capabilities = []string{}
	for i, cd := range d.Containers {
		key := fmt.Sprintf("containers[%d]", i)
		c, cerrs := cd.container()
		for _, e := range cerrs {
			errs = append(errs, key+"."+e)
		}
		switch {
		case !containerNameRE.MatchString(c.Name):
			bad(key+".name", "%q does not match %s", c.Name, containerNameRE)
		case names[c.Name] > 0:
			bad(key+".name", "%q is the name of containers[%d] too", c.Name, names[c.Name]-1)
		default:
			names[c.Name] = i + 1
		}
		if other, taken := ports[c.Port]; taken && c.Port > 0 {
			bad(key+".port", "%d is container %s's too: the containers of a session share one network namespace", c.Port, other)
		}
		ports[c.Port] = c.Name
		for _, k := range c.Capabilities {
			if other, taken := owners[k]; taken {
				bad(key+".capabilities", "%s is container %s's already: a capability belongs to one container", k, other)
				continue
			}
			owners[k] = c.Name
			p.Capabilities = append(p.Capabilities, k)
		}
		p.Containers = append(p.Containers, c)
	}
	if len(p.Containers) > 0 {
		first := p.Containers[0]
		p.Image, p.RuntimeType, p.RuntimePort = first.Image, first.RuntimeType, first.Port
		p.CPUs, p.Memory, p.MemoryBytes, p.PidsLimit = first.CPUs, first.Memory, first.MemoryBytes, first.PidsLimit
	}
	return errs
}

// container maps one container entry onto core.ContainerProfile; the
// problems name keys relative to the entry.
func (cd containerDocument) container() (core.ContainerProfile, []string) {
	var errs []string
	bad := func(key, format string, args ...any) {
		errs = append(errs, key+": "+fmt.Sprintf(format, args...))
	}
	c := core.ContainerProfile{
		Name: cd.Name, RuntimeType: cd.RuntimeType, Image: cd.Image,
		CPUs: cd.Resources.CPUs, Memory: cd.Resources.Memory, PidsLimit: cd.Resources.Pids, Shm: cd.Resources.Shm,
		Env: cd.Env, Capabilities: cd.Capabilities,
	}
	if c.Env == nil {
		c.Env = map[string]string{}
	}
	if c.Capabilities == nil {
		c.Capabilities = []string{}
	}
	switch cd.RuntimeType {
	case core.RuntimeTypeShip:
		c.Port = shipPort
	case core.RuntimeTypeBrowser:
		c.Port = browserPort
	default:
		bad("runtime_type", "%q is not one of ship, browser", cd.RuntimeType)
	}
	switch {
	case cd.Port != nil && cd.RuntimePort != nil && *cd.Port != *cd.RuntimePort:
		bad("port", "%d differs from runtime_port %d (its alias): give one", *cd.Port, *cd.RuntimePort)
	case cd.Port != nil && *cd.Port != 0:
		c.Port = *cd.Port
	case cd.RuntimePort != nil && *cd.RuntimePort != 0:
		c.Port = *cd.RuntimePort
	}
	if c.Port < 1 || c.Port > 65535 {
		bad("port", "%d is not a port", c.Port)
	}
	if c.Image == "" {
		bad("image", "want a non-empty string")
	}
	if c.CPUs <= 0 {
		bad("resources.cpus", "must be positive")
	}
	var err error
	if c.MemoryBytes, err = parseMemory(c.Memory); err != nil {
		bad("resources.memory", "%v", err)
	}
	if c.PidsLimit < 1 {
		bad("resources.pids", "want a positive integer, got %d", c.PidsLimit)
	}
	if c.Shm != "" {
		if c.ShmBytes, err = parseSize(c.Shm); err != nil {
			bad("resources.shm", "%v", err)
		}
	}
	seen := map[string]bool{}
	for _, k := range c.Capabilities {
		if seen[k] {
			bad("capabilities", "%s is listed twice", k)
		}
		seen[k] = true
	}
	switch {
	case cd.RuntimeType == core.RuntimeTypeBrowser && !slices.Equal(c.Capabilities, []string{capabilityBrowser}):
		bad("capabilities", "a browser container declares exactly [browser], not %v", c.Capabilities)
	case cd.RuntimeType != core.RuntimeTypeBrowser && seen[capabilityBrowser]:
		bad("capabilities", "browser belongs to a container of runtime_type browser")
	}
	if cd.RuntimeType == core.RuntimeTypeBrowser {
		b := newBrowserDocument()
		if cd.Browser != nil {
			b = *cd.Browser
		}
		c.Browser = &core.BrowserSettings{
			ChromiumSandbox: b.ChromiumSandbox, PersistProfile: b.PersistProfile,
			ViewportWidth: b.Viewport.Width, ViewportHeight: b.Viewport.Height,
			Locale: b.Locale, UserAgent: b.UserAgent,
		}
		switch b.ChromiumSandbox {
		case core.ChromiumSandboxAuto, core.ChromiumSandboxRequire, core.ChromiumSandboxOff:
		default:
			bad("browser.chromium_sandbox", "%q is not one of auto, require, off", b.ChromiumSandbox)
		}
		if b.Viewport.Width < 1 || b.Viewport.Height < 1 || b.Viewport.Width > 16384 || b.Viewport.Height > 16384 {
			bad("browser.viewport", "want width and height from 1 to 16384, got %dx%d", b.Viewport.Width, b.Viewport.Height)
		}
	} else if cd.Browser != nil {
		bad("browser", "only for a container of runtime_type browser")
	}
	return c, errs
}

// policy maps a profile's network onto core.NetworkPolicy.
func (d networkDocument) policy() (core.NetworkPolicy, []string) {
	var errs []string
	pol := core.NetworkPolicy{Mode: core.DefaultNetworkMode, AllowBayAPI: d.AllowBayAPI}
	switch mode := core.NetworkMode(d.Mode); mode {
	case "":
	case core.NetworkNone, core.NetworkOpen, core.NetworkAllowlist:
		pol.Mode = mode
	default:
		errs = append(errs, fmt.Sprintf("mode %s is not one of none, open, allowlist", d.Mode))
	}
	for _, s := range d.Allow {
		r, err := core.ParseNetworkRule(s)
		if err != nil {
			errs = append(errs, "allow: "+core.AsError(err).Message)
			continue
		}
		pol.Allow = append(pol.Allow, r)
	}
	switch {
	case pol.Mode == core.NetworkAllowlist && len(pol.Allow) == 0 && len(errs) == 0:
		errs = append(errs, "mode allowlist needs a non-empty allow list (use mode none to reach nothing)")
	case pol.Mode != core.NetworkAllowlist && len(pol.Allow) > 0:
		errs = append(errs, fmt.Sprintf("allow is only used with mode allowlist, not %s", pol.Mode))
	}
	return pol, errs
}

var memoryRE = regexp.MustCompile(`^(?i)\s*([0-9]+(?:\.[0-9]+)?)\s*([kmg]?)b?\s*$`)

// parseBytes parses a number with an optional k, m or g suffix (binary
// multiples, fractions allowed, case-insensitive, an optional trailing b);
// a plain number is bytes. what and example name the setting in errors.
func parseBytes(s, what, example string) (float64, error) {
	m := memoryRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("cannot parse %s %q (want e.g. %s)", what, s, example)
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("cannot parse %s %q", what, s)
	}
	switch strings.ToLower(m[2]) {
	case "k":
		f *= 1 << 10
	case "m":
		f *= 1 << 20
	case "g":
		f *= 1 << 30
	}
	return f, nil
}

// parseSize parses a size as parseMemory does, without Docker's memory
// minimum (for /dev/shm).
func parseSize(s string) (int64, error) {
	f, err := parseBytes(s, "size", "256m, 1g")
	if err != nil {
		return 0, err
	}
	if f < 1 || f > math.MaxInt64/2 {
		return 0, fmt.Errorf("size %q is out of range", s)
	}
	return int64(f), nil
}

// parseMemory parses a memory string (see parseBytes) of at least Docker's
// minimum of 6m.
func parseMemory(s string) (int64, error) {
	f, err := parseBytes(s, "memory", "512m, 1.5g, 1073741824")
	if err != nil {
		return 0, err
	}
	if f < 6<<20 {
		return 0, fmt.Errorf("memory %q is below Docker's minimum of 6m", s)
	}
	if f > math.MaxInt64/2 {
		return 0, fmt.Errorf("memory %q is too large", s)
	}
	return int64(f), nil
}
