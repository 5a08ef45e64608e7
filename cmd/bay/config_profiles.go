package main

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bayhq/bay/core"
)

// profileDocument is one entry of profiles (config.md §2.8).
type profileDocument struct {
	ID           string            `yaml:"id"`
	Image        string            `yaml:"image"`
	RuntimeType  string            `yaml:"runtime_type"`
	RuntimePort  int               `yaml:"runtime_port"`
	Resources    resourcesDocument `yaml:"resources"`
	Capabilities []string          `yaml:"capabilities"`
	IdleTimeout  int64             `yaml:"idle_timeout"`
	Env          map[string]string `yaml:"env"`
	AllowSudo    bool              `yaml:"allow_sudo"`
	// Network is nil when the entry sets none.
	Network *networkDocument `yaml:"network"`
}

type resourcesDocument struct {
	CPUs   float64 `yaml:"cpus"`
	Memory string  `yaml:"memory"`
	Pids   int64   `yaml:"pids"`
}

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
		ID: id, Image: "ship:latest", RuntimeType: core.RuntimeTypeShip, RuntimePort: 8123,
		Resources:    resourcesDocument{CPUs: 1, Memory: "1g", Pids: core.DefaultPidsLimit},
		Capabilities: []string{core.CapabilityFilesystem, core.CapabilityShell, core.CapabilityPython},
		IdleTimeout:  1800, Env: map[string]string{},
	}
}

// builtinProfiles are the profiles when the configuration lists none.
func builtinProfiles() []profileDocument {
	data := newProfileDocument("python-data")
	data.Image, data.Resources.CPUs, data.Resources.Memory = "ship:data", 2, "4g"
	return []profileDocument{newProfileDocument(core.DefaultProfileID), data}
}

// UnmarshalYAML decodes an entry over the defaults, so that what it leaves
// out keeps its default.
func (p *profileDocument) UnmarshalYAML(n *yaml.Node) error {
	*p = newProfileDocument("")
	type plain profileDocument // without this method
	return n.Decode((*plain)(p))
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
// made here.
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
		Env: d.Env, AllowSudo: d.AllowSudo,
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
	if d.Image == "" {
		bad("image", "want a non-empty string")
	}
	if d.RuntimeType == "" {
		bad("runtime_type", "want a non-empty string")
	}
	if d.RuntimePort < 0 || d.RuntimePort > 65535 {
		bad("runtime_port", "%d is not a port", d.RuntimePort)
	}
	if d.IdleTimeout < 1 {
		bad("idle_timeout", "want a positive number of seconds, got %d", d.IdleTimeout)
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
	if d.Network != nil {
		var nerrs []string
		p.Network, nerrs = d.Network.policy()
		for _, e := range nerrs {
			bad("network", "%s", e)
		}
	}
	return p, errs
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

// parseMemory parses a memory string: a number with an optional k, m or g
// suffix (binary multiples, fractions allowed, case-insensitive, an optional
// trailing b); a plain number is bytes.
func parseMemory(s string) (int64, error) {
	m := memoryRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("cannot parse memory %q (want e.g. 512m, 1.5g, 1073741824)", s)
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("cannot parse memory %q", s)
	}
	switch strings.ToLower(m[2]) {
	case "k":
		f *= 1 << 10
	case "m":
		f *= 1 << 20
	case "g":
		f *= 1 << 30
	}
	if f < 6<<20 {
		return 0, fmt.Errorf("memory %q is below Docker's minimum of 6m", s)
	}
	if f > math.MaxInt64/2 {
		return 0, fmt.Errorf("memory %q is too large", s)
	}
	return int64(f), nil
}
