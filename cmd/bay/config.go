package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/bayhq/bay/adapters/httpapi"
	"github.com/bayhq/bay/core"
)

// Config is Bay's configuration (config.md), as the rest of the program
// uses it. LoadConfig reads it once at start-up from defaults, then a YAML
// file, then BAY_* environment variables, each overriding the previous per
// leaf key. The file's layout is the document type (config_document.go);
// the defaults are defaults() there.
type Config struct {
	Server      ServerConfig
	Database    DatabaseConfig
	Driver      DriverConfig
	Locker      LockerConfig
	Security    SecurityConfig
	Idempotency IdempotencyConfig
	GC          GCConfig
	History     HistoryConfig
	Exec        ExecConfig
	Terminal    TerminalConfig
	MCP         MCPConfig
	Log         LogConfig
	Quotas      core.Quotas
	Profiles    []core.Profile
}

// The yaml tags below are the keys of config.md §2; sections whose layout
// differs from the Config the program uses have their own document types.

// ServerConfig is the HTTP listener.
type ServerConfig struct {
	Host           string `yaml:"host"`
	Port           int    `yaml:"port"`
	MaxBodyBytes   int64  `yaml:"max_body_bytes"`
	MaxUploadBytes int64  `yaml:"max_upload_bytes"`
}

// DatabaseConfig selects the store.
type DatabaseConfig struct {
	URL  string `yaml:"url"`
	Echo bool   `yaml:"echo"`
}

// DriverConfig selects and configures the runtime.
type DriverConfig struct {
	Type   string       `yaml:"type"`
	Docker DockerConfig `yaml:"docker"`
	K8s    K8sConfig    `yaml:"k8s"`
}

// Driver types (driver.type).
const (
	DriverDocker = "docker"
	DriverK8s    = "k8s"
)

// K8sConfig configures the Kubernetes runtime (kubernetes.md §2).
type K8sConfig struct {
	// Namespace holds the sandboxes' pods, claims and network policies;
	// it must exist.
	Namespace string `yaml:"namespace"`
	// Kubeconfig is a kubeconfig file; empty is the pod's service account
	// (Bay in the cluster).
	Kubeconfig string `yaml:"kubeconfig"`
	// StorageClass of the lockers' claims; empty is the cluster's default.
	StorageClass    string `yaml:"storage_class"`
	ImagePullPolicy string `yaml:"image_pull_policy"`
	// PodReadyTimeoutSeconds bounds the wait for a pod to run.
	PodReadyTimeoutSeconds int               `yaml:"pod_ready_timeout_seconds"`
	RuntimeClassName       string            `yaml:"runtime_class_name"`
	NodeSelector           map[string]string `yaml:"node_selector"`
	// BayPodLabels select Bay's own pods, the only pods that reach a
	// sandbox (NetworkPolicy ingress).
	BayPodLabels map[string]string `yaml:"bay_pod_labels"`
}

// DockerConfig configures the Docker runtime.
type DockerConfig struct {
	Socket       string `yaml:"socket"`
	ConnectMode  string `yaml:"connect_mode"`
	Network      string `yaml:"network"`
	HostAddress  string `yaml:"host_address"`
	PublishPorts bool   `yaml:"publish_ports"`
	HostPort     int    `yaml:"host_port"`
	// GuardImage is the image of the network guards; empty means the
	// default profile's image.
	GuardImage string `yaml:"guard_image"`
	// SeccompProfile is the path of a seccomp profile (Docker's JSON) that
	// replaces Bay's built-in one for browser containers whose Chromium
	// keeps its sandbox (browser.md §6); empty is the built-in profile
	// (images/browser/seccomp.json, in the binary). Read at start; a
	// missing file leaves them Docker's default profile, with a warning.
	SeccompProfile string `yaml:"seccomp_profile"`
}

// LockerConfig configures lockers.
type LockerConfig struct {
	RootPath           string `yaml:"root_path"`
	DefaultSizeLimitMB int64  `yaml:"default_size_limit_mb"`
	MountPath          string `yaml:"mount_path"`
	// EnforceSizeLimits says which new lockers are file systems of their
	// size limit (a write past it fails with ENOSPC): "explicit" (those
	// created with a size_limit_mb), "all", or "off" (limits recorded
	// only).
	EnforceSizeLimits string `yaml:"enforce_size_limits"`
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
	Enabled  bool `yaml:"enabled"`
	TTLHours int  `yaml:"ttl_hours"`
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
	// ExecutionHistory bounds execution rows (agent-reach.md §1.6).
	ExecutionHistory bool
}

// HistoryConfig bounds the execution history (agent-reach.md §1.3, §1.6).
type HistoryConfig struct {
	RetentionHours int `yaml:"retention_hours"`
	MaxPerSandbox  int `yaml:"max_per_sandbox"`
	MaxCodeBytes   int `yaml:"max_code_bytes"`
	MaxOutputBytes int `yaml:"max_output_bytes"`
	MaxErrorBytes  int `yaml:"max_error_bytes"`
	MaxImageBytes  int `yaml:"max_image_bytes"`
}

// ExecConfig bounds streamed and async executions (agent-reach.md §2).
type ExecConfig struct {
	MaxLongTimeout         int `yaml:"max_long_timeout"`
	StreamHeartbeatSeconds int `yaml:"stream_heartbeat_seconds"`
	MaxEventBytes          int `yaml:"max_event_bytes"`
}

// TerminalConfig bounds terminals through Bay (agent-reach.md §3).
type TerminalConfig struct {
	MaxPerSandbox    int      `yaml:"max_per_sandbox"`
	IdleCloseSeconds int      `yaml:"idle_close_seconds"`
	AllowedOrigins   []string `yaml:"allowed_origins"`
}

// MCPConfig configures the MCP endpoint at /mcp (agent-reach.md §4).
type MCPConfig struct {
	Enabled bool `yaml:"enabled"`
	// MaxTextChars bounds a text field of a tool result (runes).
	MaxTextChars int `yaml:"max_text_chars"`
	// DefaultTTL is create_sandbox's ttl when the agent gives none, in
	// seconds (0 = never expires).
	DefaultTTL int64 `yaml:"default_ttl"`
	// MaxWriteBytes bounds write_file's content after base64 decoding.
	MaxWriteBytes int64 `yaml:"max_write_bytes"`
	// MaxResourceBytes bounds a resource read and a base64 read_file.
	MaxResourceBytes int64 `yaml:"max_resource_bytes"`
	// DisableLocalhostProtection turns off the DNS rebinding check, for a
	// same-host reverse proxy reaching 127.0.0.1 with a public Host.
	DisableLocalhostProtection bool `yaml:"disable_localhost_protection"`
}

// LogConfig configures logging.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// DefaultConfig returns the built-in defaults of config.md.
func DefaultConfig() Config {
	c, _ := defaults().config() // no problems: TestLoadConfig_Defaults
	return c
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
