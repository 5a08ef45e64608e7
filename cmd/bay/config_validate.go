package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/bayhq/bay/core"
)

// Kubernetes names (kubernetes.md §2), checked by hand: regular
// expressions with counted repetitions would be compiled at every start.
//
// isName reports whether s is 1 to max characters that are lower-case
// letters, digits or one of extra (upper-case letters too when upper),
// beginning and ending with a letter or digit: a namespace is a name of
// 63 with "-"; a label value is empty or a name of 63 with "-_." and
// upper case; a label key is a name of the same kind, after an optional
// prefix of 253 with "-." and a "/".
func isName(s string, max int, extra string, upper bool) bool {
	if s == "" || len(s) > max {
		return false
	}
	alnum := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || upper && c >= 'A' && c <= 'Z'
	}
	for i := 0; i < len(s); i++ {
		if !alnum(s[i]) && (i == 0 || i == len(s)-1 || !strings.ContainsRune(extra, rune(s[i]))) {
			return false
		}
	}
	return true
}

func isLabelKey(k string) bool {
	if prefix, name, ok := strings.Cut(k, "/"); ok {
		return isName(prefix, 253, "-.", false) && isName(name, 63, "-_.", true)
	}
	return isName(k, 63, "-_.", true)
}

func isLabelValue(v string) bool { return v == "" || isName(v, 63, "-_.", true) }

// ConfigError lists every configuration problem found.
type ConfigError struct{ Problems []string }

func (e *ConfigError) Error() string {
	return "invalid configuration:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// Validate reports, as a *ConfigError, every value of c that is well-formed
// but not acceptable; nil if there is none.
func (c *Config) Validate() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if c.Server.Port < 0 || c.Server.Port > 65535 {
		bad("server.port: %d is not a port", c.Server.Port)
	}
	if c.Server.MaxBodyBytes < 1 {
		bad("server.max_body_bytes: must be positive")
	}
	if c.Server.MaxUploadBytes < 1 {
		bad("server.max_upload_bytes: must be positive")
	}
	if _, _, err := ParseDatabaseURL(c.Database.URL); err != nil {
		bad("database.url: %v", err)
	}
	if c.Database.Echo {
		bad("database.echo: not supported; use log.level: debug for Bay's own logs")
	}
	switch c.Driver.Type {
	case DriverDocker, DriverK8s:
	default:
		bad("driver.type: unsupported driver %q (want docker or k8s)", c.Driver.Type)
	}
	k := c.Driver.K8s
	if !isName(k.Namespace, 63, "-", false) {
		bad("driver.k8s.namespace: %q is not a namespace name (lower-case letters, digits and '-', at most 63)", k.Namespace)
	}
	switch k.ImagePullPolicy {
	case "IfNotPresent", "Never", "Always":
	default:
		bad("driver.k8s.image_pull_policy: %q is not one of IfNotPresent, Never, Always", k.ImagePullPolicy)
	}
	if k.PodReadyTimeoutSeconds < 1 {
		bad("driver.k8s.pod_ready_timeout_seconds: must be at least 1")
	}
	for key, m := range map[string]map[string]string{"node_selector": k.NodeSelector, "bay_pod_labels": k.BayPodLabels} {
		for _, name := range slices.Sorted(maps.Keys(m)) {
			if !isLabelKey(name) || !isLabelValue(m[name]) {
				bad("driver.k8s.%s: %s=%q is not a Kubernetes label", key, name, m[name])
			}
		}
	}
	switch c.Driver.Docker.ConnectMode {
	case "auto", "host_port", "container_network":
	default:
		bad("driver.docker.connect_mode: %q is not one of auto, host_port, container_network", c.Driver.Docker.ConnectMode)
	}
	if c.Driver.Docker.HostPort < 0 || c.Driver.Docker.HostPort > 65535 {
		bad("driver.docker.host_port: %d is not a port", c.Driver.Docker.HostPort)
	}
	if c.Locker.DefaultSizeLimitMB < core.MinLockerSizeMB || c.Locker.DefaultSizeLimitMB > core.MaxLockerSizeMB {
		bad("locker.default_size_limit_mb: must be between %d and %d", core.MinLockerSizeMB, core.MaxLockerSizeMB)
	}
	switch core.SizeEnforcement(c.Locker.EnforceSizeLimits) {
	case core.EnforceNone, core.EnforceExplicit, core.EnforceAll:
	default:
		bad("locker.enforce_size_limits: %q is not one of explicit, all, off", c.Locker.EnforceSizeLimits)
	}
	if c.Locker.MountPath != core.MountPath {
		bad("locker.mount_path: %q is not supported: lockers are always mounted at %s", c.Locker.MountPath, core.MountPath)
	}
	if c.Locker.RootPath != defaultLockerRoot {
		bad("locker.root_path: not supported: lockers are Docker volumes, not directories under a root path; remove the key")
	}
	for _, name := range quotaLimits {
		if *quotaLimit(&c.Quotas.Default, name) < 0 {
			bad("quotas.%s: want a number >= 0 (0 = no limit)", name)
		}
	}
	for i, h := range c.Security.BlockedHosts {
		if _, err := core.ParseBlockedHost(h); err != nil {
			bad("security.blocked_hosts[%d]: %s", i, core.AsError(err).Message)
		}
	}
	if c.Idempotency.TTLHours < 1 {
		bad("idempotency.ttl_hours: must be at least 1")
	}
	if c.GC.IntervalSeconds < 1 {
		bad("gc.interval_seconds: must be at least 1")
	}
	for _, v := range []struct {
		key string
		n   int
	}{
		{"history.retention_hours", c.History.RetentionHours}, {"history.max_per_sandbox", c.History.MaxPerSandbox},
		{"history.max_code_bytes", c.History.MaxCodeBytes}, {"history.max_output_bytes", c.History.MaxOutputBytes},
		{"history.max_error_bytes", c.History.MaxErrorBytes}, {"history.max_image_bytes", c.History.MaxImageBytes},
		{"exec.max_long_timeout", c.Exec.MaxLongTimeout}, {"exec.stream_heartbeat_seconds", c.Exec.StreamHeartbeatSeconds},
		{"exec.max_event_bytes", c.Exec.MaxEventBytes},
		{"terminal.max_per_sandbox", c.Terminal.MaxPerSandbox}, {"terminal.idle_close_seconds", c.Terminal.IdleCloseSeconds},
	} {
		if v.n < 1 {
			bad("%s: must be at least 1", v.key)
		}
	}
	if c.History.MaxOutputBytes < 64 {
		bad("history.max_output_bytes: must be at least 64")
	}
	if c.MCP.MaxTextChars < 100 {
		bad("mcp.max_text_chars: must be at least 100")
	}
	if c.MCP.DefaultTTL < 0 {
		bad("mcp.default_ttl: want a number >= 0 (0 = never expires)")
	}
	if c.MCP.MaxWriteBytes < 1 {
		bad("mcp.max_write_bytes: must be at least 1")
	}
	if c.MCP.MaxResourceBytes < 1 {
		bad("mcp.max_resource_bytes: must be at least 1")
	}
	if c.Exec.MaxLongTimeout > 86400 {
		bad("exec.max_long_timeout: at most 86400 seconds")
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "warning", "error":
	default:
		bad("log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		bad("log.format: %q is not one of json, text", c.Log.Format)
	}
	seen := map[string]bool{}
	for _, p := range c.Profiles {
		if p.ID != "" && seen[p.ID] {
			bad("profiles: duplicate profile id %q", p.ID)
		}
		seen[p.ID] = true
	}
	if len(problems) > 0 {
		return &ConfigError{Problems: problems}
	}
	return nil
}
