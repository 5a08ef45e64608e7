package main

import (
	"fmt"
	"maps"
	"slices"

	"github.com/bayhq/bay/adapters/httpapi"
	"github.com/bayhq/bay/core"
)

// document is the configuration as written: the layout of the YAML file
// (config.md §2), whose paths the BAY_* variables name too (§3). LoadConfig
// decodes the file and the environment over defaults() and maps the result
// onto Config with config. A struct-typed field is a section, merged key
// by key; any other field is a leaf, which a source replaces whole.
type document struct {
	Server      ServerConfig      `yaml:"server"`
	Database    DatabaseConfig    `yaml:"database"`
	Driver      driverDocument    `yaml:"driver"`
	Locker      LockerConfig      `yaml:"locker"`
	Security    securityDocument  `yaml:"security"`
	Idempotency IdempotencyConfig `yaml:"idempotency"`
	GC          gcDocument        `yaml:"gc"`
	History     HistoryConfig     `yaml:"history"`
	Exec        ExecConfig        `yaml:"exec"`
	Terminal    TerminalConfig    `yaml:"terminal"`
	MCP         MCPConfig         `yaml:"mcp"`
	Log         LogConfig         `yaml:"log"`
	Quotas      quotasDocument    `yaml:"quotas"`
	Profiles    []profileDocument `yaml:"profiles"`
}

type driverDocument struct {
	DriverConfig `yaml:",inline"`
}

type securityDocument struct {
	APIKey         string           `yaml:"api_key"`
	APIKeys        []apiKeyDocument `yaml:"api_keys"`
	AllowAnonymous bool             `yaml:"allow_anonymous"`
	BlockedHosts   []string         `yaml:"blocked_hosts"`
}

// apiKeyDocument is one entry of security.api_keys. Key is the token or
// "sha256:<hex>" of it; without Scopes a key gets sandboxes and lockers
// (admin is never implied).
type apiKeyDocument struct {
	Key    string   `yaml:"key"`
	Owner  string   `yaml:"owner"`
	Scopes []string `yaml:"scopes"`
}

type gcDocument struct {
	Enabled         bool   `yaml:"enabled"`
	RunOnStartup    bool   `yaml:"run_on_startup"`
	IntervalSeconds int    `yaml:"interval_seconds"`
	InstanceID      string `yaml:"instance_id"`
	IdleSession     toggle `yaml:"idle_session"`
	ExpiredSandbox  toggle `yaml:"expired_sandbox"`
	OrphanLocker    toggle `yaml:"orphan_locker"`
	OrphanContainer toggle `yaml:"orphan_container"`
	// ExecutionHistory is the fifth task (agent-reach.md §1.6).
	ExecutionHistory toggle `yaml:"execution_history"`
}

// toggle is a section holding only enabled.
type toggle struct {
	Enabled bool `yaml:"enabled"`
}

// quotasDocument holds the default limits and, per owner, the limits that
// differ from them, by name (core.Limit*). 0 is no limit.
type quotasDocument struct {
	MaxSandboxes       int64                       `yaml:"max_sandboxes"`
	MaxRunningSessions int64                       `yaml:"max_running_sessions"`
	MaxLockers         int64                       `yaml:"max_lockers"`
	MaxLockerMB        int64                       `yaml:"max_locker_mb"`
	Owners             map[string]map[string]int64 `yaml:"owners"`
}

// defaultLockerRoot is locker.root_path's default, the only value Bay
// accepts: lockers are Docker volumes.
const defaultLockerRoot = "/var/lib/bay/lockers"

// DefaultBlockedHosts are the ranges no sandbox reaches unless the operator
// says otherwise (security.blocked_hosts): link-local, which holds the
// cloud metadata address 169.254.169.254; the private ranges of RFC 1918;
// shared address space (RFC 6598), where some clouds put their metadata
// service; and their IPv6 counterparts (link-local, unique local, which
// holds AWS's fd00:ec2::254).
var DefaultBlockedHosts = []string{
	"169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
	"fe80::/10", "fc00::/7",
}

// defaults returns the built-in defaults of config.md, the only place they
// are written down. A profile entry's defaults are newProfileDocument's.
func defaults() document {
	return document{
		Server:   ServerConfig{Host: "0.0.0.0", Port: 8000, MaxBodyBytes: 16 << 20, MaxUploadBytes: 1 << 30},
		Database: DatabaseConfig{URL: "sqlite+aiosqlite:///./bay.db"},
		Driver: driverDocument{DriverConfig: DriverConfig{Type: DriverDocker, Docker: DockerConfig{
			Socket: "unix:///var/run/docker.sock", ConnectMode: "auto", HostAddress: "127.0.0.1", PublishPorts: true,
		}, K8s: K8sConfig{
			Namespace: "bay-sandboxes", ImagePullPolicy: "IfNotPresent", PodReadyTimeoutSeconds: 120,
			NodeSelector: map[string]string{}, BayPodLabels: map[string]string{"app": "bay"},
		}}},
		Locker: LockerConfig{RootPath: defaultLockerRoot, DefaultSizeLimitMB: 1024, MountPath: core.MountPath,
			EnforceSizeLimits: string(core.EnforceExplicit)},
		Security:    securityDocument{AllowAnonymous: true, BlockedHosts: slices.Clone(DefaultBlockedHosts)},
		Idempotency: IdempotencyConfig{Enabled: true, TTLHours: 1},
		GC: gcDocument{Enabled: true, RunOnStartup: true, IntervalSeconds: 300,
			IdleSession: toggle{true}, ExpiredSandbox: toggle{true}, OrphanLocker: toggle{true},
			ExecutionHistory: toggle{true}},
		History: HistoryConfig{RetentionHours: 168, MaxPerSandbox: 1000, MaxCodeBytes: 64 << 10,
			MaxOutputBytes: 64 << 10, MaxErrorBytes: 16 << 10, MaxImageBytes: 256 << 10},
		Exec:     ExecConfig{MaxLongTimeout: 3600, StreamHeartbeatSeconds: 15, MaxEventBytes: 8 << 20},
		Terminal: TerminalConfig{MaxPerSandbox: 4, IdleCloseSeconds: 3600, AllowedOrigins: []string{}},
		MCP:      MCPConfig{Enabled: true, MaxTextChars: 12000, DefaultTTL: 3600, MaxWriteBytes: 5 << 20, MaxResourceBytes: 1 << 20},
		Log:      LogConfig{Level: "info", Format: "json"},
		Profiles: builtinProfiles(),
	}
}

// leafProblem is a problem found while mapping the document: msg concerns
// the leaf key (or inside it: an entry of a list).
type leafProblem struct{ leaf, msg string }

// config maps the document onto Config. Validate checks what is left: the
// values that are well-formed but not acceptable.
func (d document) config() (Config, []leafProblem) {
	var problems []leafProblem
	report := func(leaf string, msgs []string) {
		for _, m := range msgs {
			problems = append(problems, leafProblem{leaf, m})
		}
	}
	c := Config{
		Server:   d.Server,
		Database: d.Database,
		Driver:   d.Driver.DriverConfig,
		Locker:   d.Locker,
		Security: SecurityConfig{
			APIKey: d.Security.APIKey, AllowAnonymous: d.Security.AllowAnonymous, BlockedHosts: d.Security.BlockedHosts,
		},
		Idempotency: d.Idempotency,
		GC: GCConfig{
			Enabled: d.GC.Enabled, RunOnStartup: d.GC.RunOnStartup, IntervalSeconds: d.GC.IntervalSeconds,
			InstanceID:  d.GC.InstanceID,
			IdleSession: d.GC.IdleSession.Enabled, ExpiredSandbox: d.GC.ExpiredSandbox.Enabled,
			OrphanLocker: d.GC.OrphanLocker.Enabled, OrphanContainer: d.GC.OrphanContainer.Enabled,
			ExecutionHistory: d.GC.ExecutionHistory.Enabled,
		},
		History:  d.History,
		Exec:     d.Exec,
		Terminal: d.Terminal,
		MCP:      d.MCP,
		Log:      d.Log,
	}
	var errs []string
	c.Security.APIKeys, errs = apiKeys(d.Security.APIKeys)
	report("security.api_keys", errs)
	c.Quotas, errs = quotas(d.Quotas)
	report("quotas.owners", errs)
	c.Profiles, errs = profiles(d.Profiles)
	report("profiles", errs)
	return c, problems
}

// apiKeys maps security.api_keys onto the keys httpapi accepts.
func apiKeys(docs []apiKeyDocument) ([]httpapi.APIKey, []string) {
	if docs == nil {
		return nil, nil
	}
	var errs []string
	out := make([]httpapi.APIKey, 0, len(docs))
	seen := map[[32]byte]bool{}
	for i, d := range docs {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Sprintf("[%d]: ", i)+fmt.Sprintf(format, args...))
		}
		k := httpapi.APIKey{Secret: d.Key, Owner: d.Owner, Scopes: d.Scopes}
		if k.Scopes == nil {
			k.Scopes = []string{httpapi.ScopeSandboxes, httpapi.ScopeLockers}
		}
		digest, err := httpapi.ParseKeySecret(k.Secret)
		switch {
		case err != nil:
			bad("key: %v", err)
		case seen[digest]:
			bad("key: the same key is listed twice")
		}
		seen[digest] = true
		if k.Owner == "" || len(k.Owner) > 255 {
			bad("owner: want a non-empty string of at most 255 bytes")
		}
		if err := httpapi.CheckScopes(k.Scopes); err != nil {
			bad("scopes: %v", err)
		}
		out = append(out, k)
	}
	return out, errs
}

// quotaLimits are the names of the limits, in the order they are reported.
var quotaLimits = []string{core.LimitSandboxes, core.LimitRunningSessions, core.LimitLockers, core.LimitLockerMB}

// quotaLimit returns the field of q that the limit name sets, or nil.
func quotaLimit(q *core.Quota, name string) *int64 {
	switch name {
	case core.LimitSandboxes:
		return &q.MaxSandboxes
	case core.LimitRunningSessions:
		return &q.MaxRunningSessions
	case core.LimitLockers:
		return &q.MaxLockers
	case core.LimitLockerMB:
		return &q.MaxLockerMB
	}
	return nil
}

// quotas lays each owner's limits over the default ones. The errors concern
// quotas.owners; Validate checks the default limits.
func quotas(d quotasDocument) (core.Quotas, []string) {
	q := core.Quotas{Default: core.Quota{
		MaxSandboxes: d.MaxSandboxes, MaxRunningSessions: d.MaxRunningSessions,
		MaxLockers: d.MaxLockers, MaxLockerMB: d.MaxLockerMB,
	}}
	var errs []string
	for _, owner := range slices.Sorted(maps.Keys(d.Owners)) {
		o := q.Default
		for _, name := range slices.Sorted(maps.Keys(d.Owners[owner])) {
			n, field := d.Owners[owner][name], quotaLimit(&o, name)
			switch {
			case field == nil:
				errs = append(errs, fmt.Sprintf("%s: unknown limit %s", owner, name))
			case n < 0:
				errs = append(errs, fmt.Sprintf("%s.%s: want a number >= 0 (0 = no limit)", owner, name))
			default:
				*field = n
			}
		}
		if q.Owners == nil {
			q.Owners = map[string]core.Quota{}
		}
		q.Owners[owner] = o
	}
	return q, errs
}
