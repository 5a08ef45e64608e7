package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bayhq/bay/adapters/httpapi"
	"github.com/bayhq/bay/core"
)

// Config is Bay's configuration (config.md). It is read once at start-up
// from defaults, then a YAML file, then BAY_* environment variables, each
// overriding the previous per leaf key.
type Config struct {
	Server      ServerConfig
	Database    DatabaseConfig
	Driver      DriverConfig
	Locker      LockerConfig
	Security    SecurityConfig
	Idempotency IdempotencyConfig
	GC          GCConfig
	Log         LogConfig
	Quotas      core.Quotas
	Profiles    []core.Profile

	// ownerQuotaOverrides are quotas.owners as read, before resolveQuotas.
	ownerQuotaOverrides map[string]map[string]int64
}

// ServerConfig is the HTTP listener.
type ServerConfig struct {
	Host           string
	Port           int
	MaxBodyBytes   int64
	MaxUploadBytes int64
}

// DatabaseConfig selects the store.
type DatabaseConfig struct {
	URL  string
	Echo bool
}

// DriverConfig selects and configures the runtime.
type DriverConfig struct {
	Type   string
	Docker DockerConfig
}

// DockerConfig configures the Docker runtime.
type DockerConfig struct {
	Socket       string
	ConnectMode  string
	Network      string
	HostAddress  string
	PublishPorts bool
	HostPort     int
	// GuardImage is the image of the network guards; empty means the
	// default profile's image.
	GuardImage string
}

// LockerConfig configures lockers.
type LockerConfig struct {
	RootPath           string
	DefaultSizeLimitMB int64
	MountPath          string
}

// SecurityConfig configures authentication.
type SecurityConfig struct {
	APIKey string
	// APIKeys are further keys, each with its owner and scopes.
	APIKeys        []httpapi.APIKey
	AllowAnonymous bool
	BlockedHosts   []string
}

// IdempotencyConfig configures Idempotency-Key handling.
type IdempotencyConfig struct {
	Enabled  bool
	TTLHours int
}

// GCConfig configures garbage collection.
type GCConfig struct {
	Enabled         bool
	RunOnStartup    bool
	IntervalSeconds int
	InstanceID      string
	IdleSession     bool
	ExpiredSandbox  bool
	OrphanLocker    bool
	OrphanContainer bool
}

// LogConfig configures logging.
type LogConfig struct {
	Level  string
	Format string
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

// DefaultConfig returns the built-in defaults of config.md.
func DefaultConfig() Config {
	return Config{
		Server:   ServerConfig{Host: "0.0.0.0", Port: 8000, MaxBodyBytes: 16 << 20, MaxUploadBytes: 1 << 30},
		Database: DatabaseConfig{URL: "sqlite+aiosqlite:///./bay.db"},
		Driver: DriverConfig{Type: "docker", Docker: DockerConfig{
			Socket: "unix:///var/run/docker.sock", ConnectMode: "auto", HostAddress: "127.0.0.1", PublishPorts: true,
		}},
		Locker:      LockerConfig{RootPath: defaultLockerRoot, DefaultSizeLimitMB: 1024, MountPath: core.MountPath},
		Security:    SecurityConfig{AllowAnonymous: true, BlockedHosts: slices.Clone(DefaultBlockedHosts)},
		Idempotency: IdempotencyConfig{Enabled: true, TTLHours: 1},
		GC: GCConfig{Enabled: true, RunOnStartup: true, IntervalSeconds: 300,
			IdleSession: true, ExpiredSandbox: true, OrphanLocker: true},
		Log: LogConfig{Level: "info", Format: "json"},
		Profiles: []core.Profile{
			defaultProfile("python-default", "ship:latest", 1.0, "1g"),
			defaultProfile("python-data", "ship:data", 2.0, "4g"),
		},
	}
}

func defaultProfile(id, image string, cpus float64, memory string) core.Profile {
	mem, _ := parseMemory(memory)
	return core.Profile{
		ID: id, Image: image, RuntimeType: core.RuntimeTypeShip, RuntimePort: 8123,
		CPUs: cpus, Memory: memory, MemoryBytes: mem, PidsLimit: 512,
		Capabilities: []string{core.CapabilityFilesystem, core.CapabilityShell, core.CapabilityPython},
		IdleTimeout:  1800 * time.Second, Env: map[string]string{},
	}
}

// LoadConfig builds the configuration from defaults, the first existing YAML
// file (flagPath, then $BAY_CONFIG_FILE, ./config.yaml, /etc/bay/config.yaml)
// and the environment. It returns warnings (unknown keys, ignored values)
// and an error listing every problem at once.
func LoadConfig(flagPath string, environ []string) (Config, []string, error) {
	c := DefaultConfig()
	l := &loader{}
	file, err := configFile(flagPath, environ)
	if err != nil {
		return c, nil, err
	}
	if file != "" {
		raw, err := os.ReadFile(file) // #nosec G304 -- the operator names the file (-config or BAY_CONFIG_FILE)
		if err != nil {
			return c, nil, fmt.Errorf("read config %s: %w", file, err)
		}
		var tree map[string]any
		if err := yaml.Unmarshal(raw, &tree); err != nil {
			return c, nil, fmt.Errorf("parse config %s: %w", file, err)
		}
		l.applyTree(&c, tree, "file "+file)
	}
	l.applyEnv(&c, environ)
	l.validate(&c)
	if len(l.problems) > 0 {
		return c, l.warnings, &ConfigError{Problems: l.problems}
	}
	return c, l.warnings, nil
}

// ConfigError lists every configuration problem found.
type ConfigError struct{ Problems []string }

func (e *ConfigError) Error() string {
	return "invalid configuration:\n  - " + strings.Join(e.Problems, "\n  - ")
}

func configFile(flagPath string, environ []string) (string, error) {
	if flagPath != "" {
		if _, err := os.Stat(flagPath); err != nil {
			return "", fmt.Errorf("config file %s: %w", flagPath, err)
		}
		return flagPath, nil
	}
	candidates := []string{}
	if p := lookupEnv(environ, "BAY_CONFIG_FILE"); p != "" {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, "config.yaml", "/etc/bay/config.yaml")
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", nil
}

func lookupEnv(environ []string, name string) string {
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

type loader struct {
	problems []string
	warnings []string
}

func (l *loader) problem(format string, args ...any) {
	l.problems = append(l.problems, fmt.Sprintf(format, args...))
}

// setter applies one value to the config. v is a YAML-decoded value or, when
// fromEnv, the raw string of an environment variable.
type setter func(c *Config, v any, fromEnv bool) error

// keys maps every leaf key (dotted YAML path) to its setter. Aliases of the
// reference's names are resolved before lookup.
var keys = map[string]setter{
	"server.host":                  str(func(c *Config) *string { return &c.Server.Host }),
	"server.port":                  integer(func(c *Config) *int { return &c.Server.Port }),
	"server.max_body_bytes":        integer64(func(c *Config) *int64 { return &c.Server.MaxBodyBytes }),
	"server.max_upload_bytes":      integer64(func(c *Config) *int64 { return &c.Server.MaxUploadBytes }),
	"database.url":                 str(func(c *Config) *string { return &c.Database.URL }),
	"database.echo":                boolean(func(c *Config) *bool { return &c.Database.Echo }),
	"driver.type":                  str(func(c *Config) *string { return &c.Driver.Type }),
	"driver.docker.socket":         str(func(c *Config) *string { return &c.Driver.Docker.Socket }),
	"driver.docker.connect_mode":   str(func(c *Config) *string { return &c.Driver.Docker.ConnectMode }),
	"driver.docker.network":        str(func(c *Config) *string { return &c.Driver.Docker.Network }),
	"driver.docker.host_address":   str(func(c *Config) *string { return &c.Driver.Docker.HostAddress }),
	"driver.docker.publish_ports":  boolean(func(c *Config) *bool { return &c.Driver.Docker.PublishPorts }),
	"driver.docker.host_port":      integer(func(c *Config) *int { return &c.Driver.Docker.HostPort }),
	"driver.docker.guard_image":    str(func(c *Config) *string { return &c.Driver.Docker.GuardImage }),
	"driver.k8s.namespace":         unsupported("the k8s driver is not implemented"),
	"driver.k8s.kubeconfig":        unsupported("the k8s driver is not implemented"),
	"locker.root_path":             str(func(c *Config) *string { return &c.Locker.RootPath }),
	"locker.default_size_limit_mb": integer64(func(c *Config) *int64 { return &c.Locker.DefaultSizeLimitMB }),
	"locker.mount_path":            str(func(c *Config) *string { return &c.Locker.MountPath }),
	"security.api_key":             str(func(c *Config) *string { return &c.Security.APIKey }),
	"security.allow_anonymous":     boolean(func(c *Config) *bool { return &c.Security.AllowAnonymous }),
	"security.blocked_hosts":       stringList(func(c *Config) *[]string { return &c.Security.BlockedHosts }),
	"security.api_keys":            apiKeys,
	"quotas.max_sandboxes":         integer64(func(c *Config) *int64 { return &c.Quotas.Default.MaxSandboxes }),
	"quotas.max_running_sessions":  integer64(func(c *Config) *int64 { return &c.Quotas.Default.MaxRunningSessions }),
	"quotas.max_lockers":           integer64(func(c *Config) *int64 { return &c.Quotas.Default.MaxLockers }),
	"quotas.max_locker_mb":         integer64(func(c *Config) *int64 { return &c.Quotas.Default.MaxLockerMB }),
	"quotas.owners":                ownerQuotas,
	"idempotency.enabled":          boolean(func(c *Config) *bool { return &c.Idempotency.Enabled }),
	"idempotency.ttl_hours":        integer(func(c *Config) *int { return &c.Idempotency.TTLHours }),
	"gc.enabled":                   boolean(func(c *Config) *bool { return &c.GC.Enabled }),
	"gc.run_on_startup":            boolean(func(c *Config) *bool { return &c.GC.RunOnStartup }),
	"gc.interval_seconds":          integer(func(c *Config) *int { return &c.GC.IntervalSeconds }),
	"gc.instance_id":               str(func(c *Config) *string { return &c.GC.InstanceID }),
	"gc.idle_session.enabled":      boolean(func(c *Config) *bool { return &c.GC.IdleSession }),
	"gc.expired_sandbox.enabled":   boolean(func(c *Config) *bool { return &c.GC.ExpiredSandbox }),
	"gc.orphan_locker.enabled":     boolean(func(c *Config) *bool { return &c.GC.OrphanLocker }),
	"gc.orphan_container.enabled":  boolean(func(c *Config) *bool { return &c.GC.OrphanContainer }),
	"log.level":                    str(func(c *Config) *string { return &c.Log.Level }),
	"log.format":                   str(func(c *Config) *string { return &c.Log.Format }),
	"profiles":                     profiles,
}

// aliases maps the reference's key prefixes to Bay's.
var aliases = [][2]string{
	{"workspace.", "locker."},
	{"gc.orphan_workspace.", "gc.orphan_locker."},
}

// listKeys are keys whose value is a whole list or map, not a subtree.
var listKeys = map[string]bool{"profiles": true, "security.blocked_hosts": true, "security.api_keys": true, "quotas.owners": true}

func (l *loader) applyTree(c *Config, tree map[string]any, source string) {
	flat := map[string]any{}
	flatten("", tree, flat)
	// Apply aliases first so that Bay's own names win when both are present.
	paths := make([]string, 0, len(flat))
	for p := range flat {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool {
		return isAlias(paths[i]) && !isAlias(paths[j])
	})
	for _, p := range paths {
		l.apply(c, canonical(p), flat[p], false, source)
	}
}

func isAlias(p string) bool { return canonical(p) != p }

func canonical(p string) string {
	for _, a := range aliases {
		if strings.HasPrefix(p, a[0]) {
			return a[1] + strings.TrimPrefix(p, a[0])
		}
	}
	return p
}

func flatten(prefix string, v any, out map[string]any) {
	m, ok := v.(map[string]any)
	if !ok || listKeys[prefix] {
		out[prefix] = v
		return
	}
	if len(m) == 0 && prefix != "" {
		out[prefix] = v
		return
	}
	for k, sub := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		flatten(p, sub, out)
	}
}

func (l *loader) applyEnv(c *Config, environ []string) {
	type kv struct{ path, value, name string }
	var vars []kv
	for _, e := range environ {
		name, value, ok := strings.Cut(e, "=")
		if !ok || !strings.HasPrefix(strings.ToUpper(name), "BAY_") {
			continue
		}
		path := strings.ToLower(strings.ReplaceAll(name[4:], "__", "."))
		path = canonical(path)
		if _, known := keys[path]; !known {
			continue // BAY_CONFIG_FILE and other non-keys are ignored
		}
		vars = append(vars, kv{path, value, name})
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].name < vars[j].name })
	for _, v := range vars {
		l.apply(c, v.path, v.value, true, "environment variable "+v.name)
	}
}

func (l *loader) apply(c *Config, path string, v any, fromEnv bool, source string) {
	set, ok := keys[path]
	if !ok {
		l.warnings = append(l.warnings, fmt.Sprintf("unknown configuration key %q in %s is ignored", path, source))
		return
	}
	if err := set(c, v, fromEnv); err != nil {
		l.problem("%s (%s): %v", path, source, err)
	}
}

// unsupported refuses a key Bay reads but cannot act on: a setting that
// silently does nothing is worse than none. A null value is accepted.
func unsupported(why string) setter {
	return func(_ *Config, v any, fromEnv bool) error {
		if v == nil || (fromEnv && v == "") {
			return nil
		}
		return fmt.Errorf("not supported: %s; remove the key", why)
	}
}

func str(field func(*Config) *string) setter {
	return func(c *Config, v any, fromEnv bool) error {
		switch x := v.(type) {
		case nil:
			*field(c) = ""
		case string:
			*field(c) = x
		case int, float64, bool:
			if fromEnv {
				*field(c) = fmt.Sprint(x)
				return nil
			}
			return fmt.Errorf("want a string, got %v", x)
		default:
			return fmt.Errorf("want a string, got %T", v)
		}
		return nil
	}
}

func toInt(v any, fromEnv bool) (int64, bool, error) {
	switch x := v.(type) {
	case nil:
		return 0, true, nil
	case int:
		return int64(x), false, nil
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return 0, false, fmt.Errorf("want an integer, got %v", x)
		}
		return int64(x), false, nil
	case string:
		if fromEnv && strings.TrimSpace(x) == "" {
			return 0, true, nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("want an integer, got %q", x)
		}
		return n, false, nil
	default:
		return 0, false, fmt.Errorf("want an integer, got %T", v)
	}
}

func integer(field func(*Config) *int) setter {
	return func(c *Config, v any, fromEnv bool) error {
		n, _, err := toInt(v, fromEnv)
		if err != nil {
			return err
		}
		if n > math.MaxInt32 || n < math.MinInt32 {
			return fmt.Errorf("%d is out of range", n)
		}
		*field(c) = int(n)
		return nil
	}
}

func integer64(field func(*Config) *int64) setter {
	return func(c *Config, v any, fromEnv bool) error {
		n, _, err := toInt(v, fromEnv)
		if err != nil {
			return err
		}
		*field(c) = n
		return nil
	}
}

func parseBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case int:
		if x == 0 || x == 1 {
			return x == 1, nil
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "1", "yes", "on":
			return true, nil
		case "false", "0", "no", "off", "":
			return false, nil
		}
	case nil:
		return false, nil
	}
	return false, fmt.Errorf("want a boolean (true/false/1/0/yes/no/on/off), got %v", v)
}

func boolean(field func(*Config) *bool) setter {
	return func(c *Config, v any, _ bool) error {
		b, err := parseBool(v)
		if err != nil {
			return err
		}
		*field(c) = b
		return nil
	}
}

// jsonValue decodes an environment variable holding a list or map.
func jsonValue(v any, fromEnv bool) (any, error) {
	s, ok := v.(string)
	if !fromEnv || !ok {
		return v, nil
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("want JSON: %v", err)
	}
	return normalizeJSON(out), nil
}

// normalizeJSON turns json.Number into int or float64 as YAML would.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return int(n)
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = normalizeJSON(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normalizeJSON(x[k])
		}
	}
	return v
}

func stringList(field func(*Config) *[]string) setter {
	return func(c *Config, v any, fromEnv bool) error {
		v, err := jsonValue(v, fromEnv)
		if err != nil {
			return err
		}
		if v == nil {
			*field(c) = nil
			return nil
		}
		items, ok := v.([]any)
		if !ok {
			return fmt.Errorf("want a list of strings, got %T", v)
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			s, ok := it.(string)
			if !ok {
				return fmt.Errorf("want a list of strings, got an item %v", it)
			}
			out = append(out, s)
		}
		*field(c) = out
		return nil
	}
}

func profiles(c *Config, v any, fromEnv bool) error {
	v, err := jsonValue(v, fromEnv)
	if err != nil {
		return err
	}
	if v == nil {
		c.Profiles = nil
		return nil
	}
	items, ok := v.([]any)
	if !ok {
		return fmt.Errorf("want a list of profiles, got %T", v)
	}
	var problems []string
	out := make([]core.Profile, 0, len(items))
	for i, it := range items {
		p, errs := parseProfile(it)
		for _, e := range errs {
			problems = append(problems, fmt.Sprintf("profiles[%d]: %s", i, e))
		}
		out = append(out, p)
	}
	c.Profiles = out
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func parseProfile(v any) (core.Profile, []string) {
	var errs []string
	m, ok := v.(map[string]any)
	if !ok {
		return core.Profile{}, []string{fmt.Sprintf("want a mapping, got %T", v)}
	}
	p := defaultProfile("", "ship:latest", 1.0, "1g")
	bad := func(key string, err error) { errs = append(errs, fmt.Sprintf("%s: %v", key, err)) }
	for k, val := range m {
		switch k {
		case "id":
			s, ok := val.(string)
			if !ok || s == "" {
				bad(k, fmt.Errorf("want a non-empty string"))
			}
			p.ID = s
		case "image":
			s, ok := val.(string)
			if !ok || s == "" {
				bad(k, fmt.Errorf("want a non-empty string"))
			}
			p.Image = s
		case "runtime_type":
			s, ok := val.(string)
			if !ok || s == "" {
				bad(k, fmt.Errorf("want a non-empty string"))
			}
			p.RuntimeType = s
		case "runtime_port":
			n, null, err := toInt(val, false)
			switch {
			case err != nil:
				bad(k, err)
			case null || n == 0:
				p.RuntimePort = 8000 // the reference's fallback for null or 0
			case n < 1 || n > 65535:
				bad(k, fmt.Errorf("%d is not a port", n))
			default:
				p.RuntimePort = int(n)
			}
		case "idle_timeout":
			n, _, err := toInt(val, false)
			if err != nil || n < 1 {
				bad(k, fmt.Errorf("want a positive number of seconds, got %v", val))
			}
			p.IdleTimeout = time.Duration(n) * time.Second
		case "network":
			pol, perrs := parseNetwork(val)
			for _, e := range perrs {
				bad(k, errors.New(e))
			}
			p.Network = pol
		case "allow_sudo":
			b, err := parseBool(val)
			if err != nil {
				bad(k, err)
			}
			p.AllowSudo = b
		case "capabilities":
			items, ok := val.([]any)
			if !ok {
				bad(k, fmt.Errorf("want a list of strings"))
				continue
			}
			p.Capabilities = []string{}
			for _, it := range items {
				s, ok := it.(string)
				if !ok {
					bad(k, fmt.Errorf("want a list of strings"))
					break
				}
				p.Capabilities = append(p.Capabilities, s)
			}
		case "env":
			em, ok := val.(map[string]any)
			if val != nil && !ok {
				bad(k, fmt.Errorf("want a mapping of strings"))
				continue
			}
			p.Env = map[string]string{}
			for ek, ev := range em {
				switch x := ev.(type) {
				case string:
					p.Env[ek] = x
				case int, float64, bool:
					p.Env[ek] = fmt.Sprint(x)
				default:
					bad(k+"."+ek, fmt.Errorf("want a string"))
				}
			}
		case "resources":
			rm, ok := val.(map[string]any)
			if !ok {
				bad(k, fmt.Errorf("want a mapping"))
				continue
			}
			for rk, rv := range rm {
				switch rk {
				case "cpus":
					switch x := rv.(type) {
					case int:
						p.CPUs = float64(x)
					case float64:
						p.CPUs = x
					default:
						bad("resources.cpus", fmt.Errorf("want a number, got %v", rv))
					}
					if p.CPUs <= 0 {
						bad("resources.cpus", fmt.Errorf("must be positive"))
					}
				case "memory":
					s := fmt.Sprint(rv)
					n, err := parseMemory(s)
					if err != nil {
						bad("resources.memory", err)
					}
					p.Memory, p.MemoryBytes = s, n
				case "pids":
					n, _, err := toInt(rv, false)
					if err != nil || n < 1 {
						bad("resources.pids", fmt.Errorf("want a positive integer, got %v", rv))
					}
					p.PidsLimit = n
				default:
					errs = append(errs, fmt.Sprintf("unknown key resources.%s", rk))
				}
			}
		default:
			errs = append(errs, fmt.Sprintf("unknown key %s", k))
		}
	}
	if _, ok := m["id"]; !ok {
		errs = append(errs, "id is required")
	}
	return p, errs
}

// apiKeys reads security.api_keys: a list of {key, owner, scopes}. key is
// the token or "sha256:<hex>" of it; scopes default to sandboxes and
// lockers (admin must be given explicitly).
func apiKeys(c *Config, v any, fromEnv bool) error {
	v, err := jsonValue(v, fromEnv)
	if err != nil {
		return err
	}
	items, ok := v.([]any)
	if v != nil && !ok {
		return fmt.Errorf("want a list of {key, owner, scopes}, got %T", v)
	}
	var problems []string
	out := make([]httpapi.APIKey, 0, len(items))
	seen := map[[32]byte]bool{}
	for i, it := range items {
		bad := func(format string, args ...any) {
			problems = append(problems, fmt.Sprintf("[%d]: ", i)+fmt.Sprintf(format, args...))
		}
		m, ok := it.(map[string]any)
		if !ok {
			bad("want a mapping {key, owner, scopes}")
			continue
		}
		k := httpapi.APIKey{Scopes: []string{httpapi.ScopeSandboxes, httpapi.ScopeLockers}}
		for name, val := range m {
			switch name {
			case "key":
				k.Secret, _ = val.(string)
			case "owner":
				k.Owner, _ = val.(string)
			case "scopes":
				list, ok := val.([]any)
				if !ok {
					bad("scopes: want a list of %s", strings.Join(httpapi.AllScopes, ", "))
					continue
				}
				k.Scopes = []string{}
				for _, s := range list {
					str, _ := s.(string)
					k.Scopes = append(k.Scopes, str)
				}
			default:
				bad("unknown key %s", name)
			}
		}
		d, err := httpapi.ParseKeySecret(k.Secret)
		switch {
		case err != nil:
			bad("key: %v", err)
		case seen[d]:
			bad("key: the same key is listed twice")
		}
		seen[d] = true
		if k.Owner == "" || len(k.Owner) > 255 {
			bad("owner: want a non-empty string of at most 255 bytes")
		}
		if err := httpapi.CheckScopes(k.Scopes); err != nil {
			bad("scopes: %v", err)
		}
		out = append(out, k)
	}
	c.Security.APIKeys = out
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// ownerQuotas reads quotas.owners: a mapping from owner to the limits that
// differ from the default ones.
func ownerQuotas(c *Config, v any, fromEnv bool) error {
	v, err := jsonValue(v, fromEnv)
	if err != nil {
		return err
	}
	m, ok := v.(map[string]any)
	if v != nil && !ok {
		return fmt.Errorf("want a mapping of owner to {max_sandboxes, max_running_sessions, max_lockers, max_locker_mb}, got %T", v)
	}
	c.ownerQuotaOverrides = map[string]map[string]int64{}
	var problems []string
	for owner, val := range m {
		lm, ok := val.(map[string]any)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: want a mapping of limits", owner))
			continue
		}
		over := map[string]int64{}
		for name, n := range lm {
			switch name {
			case core.LimitSandboxes, core.LimitRunningSessions, core.LimitLockers, core.LimitLockerMB:
			default:
				problems = append(problems, fmt.Sprintf("%s: unknown limit %s", owner, name))
				continue
			}
			x, _, err := toInt(n, false)
			if err != nil || x < 0 {
				problems = append(problems, fmt.Sprintf("%s.%s: want a number >= 0 (0 = no limit)", owner, name))
				continue
			}
			over[name] = x
		}
		c.ownerQuotaOverrides[owner] = over
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// resolveQuotas lays each owner's overrides over the default limits, which
// are only final once every source is read.
func (c *Config) resolveQuotas() {
	c.Quotas.Owners = nil
	for owner, over := range c.ownerQuotaOverrides {
		if c.Quotas.Owners == nil {
			c.Quotas.Owners = map[string]core.Quota{}
		}
		q := c.Quotas.Default
		for name, n := range over {
			switch name {
			case core.LimitSandboxes:
				q.MaxSandboxes = n
			case core.LimitRunningSessions:
				q.MaxRunningSessions = n
			case core.LimitLockers:
				q.MaxLockers = n
			case core.LimitLockerMB:
				q.MaxLockerMB = n
			}
		}
		c.Quotas.Owners[owner] = q
	}
}

// parseNetwork reads a profile's network setting: a mode string
// ("open", "none", "allowlist") or a mapping {mode, allow, allow_bay_api}.
func parseNetwork(v any) (core.NetworkPolicy, []string) {
	var errs []string
	pol := core.NetworkPolicy{Mode: core.DefaultNetworkMode}
	m, isMap := v.(map[string]any)
	if mode, ok := v.(string); ok {
		m, isMap = map[string]any{"mode": mode}, true
	}
	if !isMap {
		return pol, []string{fmt.Sprintf("want a mode (none, open, allowlist) or a mapping {mode, allow, allow_bay_api}, got %T", v)}
	}
	var allow []any
	for k, val := range m {
		switch k {
		case "mode":
			mode, _ := val.(string)
			switch core.NetworkMode(mode) {
			case core.NetworkNone, core.NetworkOpen, core.NetworkAllowlist:
				pol.Mode = core.NetworkMode(mode)
			default:
				errs = append(errs, fmt.Sprintf("mode %v is not one of none, open, allowlist", val))
			}
		case "allow":
			list, ok := val.([]any)
			if !ok && val != nil {
				errs = append(errs, "allow: want a list of hosts, addresses or CIDR ranges, each with an optional :port")
			}
			allow = list
		case "allow_bay_api":
			b, err := parseBool(val)
			if err != nil {
				errs = append(errs, "allow_bay_api: "+err.Error())
			}
			pol.AllowBayAPI = b
		default:
			errs = append(errs, "unknown key "+k)
		}
	}
	for _, it := range allow {
		s, ok := it.(string)
		if !ok {
			errs = append(errs, fmt.Sprintf("allow: want strings, got %v", it))
			continue
		}
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

func (l *loader) validate(c *Config) {
	if c.Server.Port < 0 || c.Server.Port > 65535 {
		l.problem("server.port: %d is not a port", c.Server.Port)
	}
	if c.Server.MaxBodyBytes < 1 {
		l.problem("server.max_body_bytes: must be positive")
	}
	if c.Server.MaxUploadBytes < 1 {
		l.problem("server.max_upload_bytes: must be positive")
	}
	if _, _, err := ParseDatabaseURL(c.Database.URL); err != nil {
		l.problem("database.url: %v", err)
	}
	switch c.Driver.Type {
	case "docker":
	case "k8s":
		l.problem("driver.type: k8s is not implemented; use docker")
	default:
		l.problem("driver.type: unsupported driver %q (want docker)", c.Driver.Type)
	}
	switch c.Driver.Docker.ConnectMode {
	case "auto", "host_port", "container_network":
	default:
		l.problem("driver.docker.connect_mode: %q is not one of auto, host_port, container_network", c.Driver.Docker.ConnectMode)
	}
	if c.Driver.Docker.HostPort < 0 || c.Driver.Docker.HostPort > 65535 {
		l.problem("driver.docker.host_port: %d is not a port", c.Driver.Docker.HostPort)
	}
	if c.Locker.DefaultSizeLimitMB < 1 || c.Locker.DefaultSizeLimitMB > 65536 {
		l.problem("locker.default_size_limit_mb: must be between 1 and 65536")
	}
	if c.Locker.MountPath != core.MountPath {
		l.problem("locker.mount_path: %q is not supported: lockers are always mounted at %s", c.Locker.MountPath, core.MountPath)
	}
	if c.Locker.RootPath != defaultLockerRoot {
		l.problem("locker.root_path: not supported: lockers are Docker volumes, not directories under a root path; remove the key")
	}
	if c.Database.Echo {
		l.problem("database.echo: not supported; use log.level: debug for Bay's own logs")
	}
	q := c.Quotas.Default
	for name, n := range map[string]int64{core.LimitSandboxes: q.MaxSandboxes, core.LimitRunningSessions: q.MaxRunningSessions, core.LimitLockers: q.MaxLockers, core.LimitLockerMB: q.MaxLockerMB} {
		if n < 0 {
			l.problem("quotas.%s: want a number >= 0 (0 = no limit)", name)
		}
	}
	c.resolveQuotas()
	for i, h := range c.Security.BlockedHosts {
		if _, err := core.ParseBlockedHost(h); err != nil {
			l.problem("security.blocked_hosts[%d]: %s", i, core.AsError(err).Message)
		}
	}
	if c.Idempotency.TTLHours < 1 {
		l.problem("idempotency.ttl_hours: must be at least 1")
	}
	if c.GC.IntervalSeconds < 1 {
		l.problem("gc.interval_seconds: must be at least 1")
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "warning", "error":
	default:
		l.problem("log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		l.problem("log.format: %q is not one of json, text", c.Log.Format)
	}
	seen := map[string]bool{}
	for _, p := range c.Profiles {
		if p.ID != "" && seen[p.ID] {
			l.problem("profiles: duplicate profile id %q", p.ID)
		}
		seen[p.ID] = true
	}
}

// InstanceID resolves the GC instance id: gc.instance_id, else $HOSTNAME,
// else "bay".
func (c *Config) InstanceID(environ []string) string {
	if c.GC.InstanceID != "" {
		return c.GC.InstanceID
	}
	if h := lookupEnv(environ, "HOSTNAME"); h != "" {
		return h
	}
	return "bay"
}

// Database kinds.
const (
	DatabaseSQLite   = "sqlite"
	DatabasePostgres = "postgres"
)

// ParseDatabaseURL returns the kind of database and the address its adapter
// opens: a file path (or ":memory:") for SQLite, a postgres:// URL for
// Postgres. It accepts the reference's SQLAlchemy-style URLs.
func ParseDatabaseURL(raw string) (kind, addr string, err error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "", "", fmt.Errorf("%q is not a URL (want sqlite:///path or postgresql://…)", raw)
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite+aiosqlite", "sqlite3":
		// Three slashes and a relative path, or four for an absolute one.
		path, ok := strings.CutPrefix(rest, "/")
		if !ok || path == "" {
			return "", "", fmt.Errorf("%q: want sqlite:///:memory:, sqlite:///relative/path or sqlite:////absolute/path", raw)
		}
		if path == ":memory:" {
			return DatabaseSQLite, path, nil
		}
		if !filepath.IsAbs(path) {
			path = filepath.Clean(path)
		}
		return DatabaseSQLite, path, nil
	case "postgres", "postgresql", "postgresql+asyncpg", "postgresql+psycopg", "postgresql+psycopg2":
		return DatabasePostgres, "postgres://" + rest, nil
	default:
		return "", "", fmt.Errorf("unsupported database URL scheme %q (want sqlite or postgresql)", scheme)
	}
}
