package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestLoadConfig_Defaults(t *testing.T) {
	t.Parallel()
	c, warnings, err := LoadConfig("", []string{"BAY_CONFIG_FILE=/nonexistent.yaml"})
	require.NoError(t, err)
	require.Empty(t, warnings)
	require.Equal(t, DefaultConfig(), c)
	require.Len(t, c.Profiles, 3)
	require.Equal(t, int64(1<<30), c.Profiles[0].MemoryBytes)
	require.Equal(t, 8123, c.Profiles[0].RuntimePort)
	require.Equal(t, []core.ContainerProfile{{
		Name: "ship", RuntimeType: "ship", Image: "ship:latest", Port: 8123, CPUs: 1, Memory: "1g", MemoryBytes: 1 << 30,
		PidsLimit: 512, Capabilities: []string{"filesystem", "shell", "python"},
	}}, c.Profiles[0].Containers, "a single-image profile is one container named after its type")
	bp := c.Profiles[2]
	require.Equal(t, "browser-python", bp.ID)
	require.Equal(t, []string{"filesystem", "shell", "python", "browser"}, bp.Capabilities, "the union, in order")
	require.Equal(t, "ship:latest", bp.Image, "the first container's")
	require.Len(t, bp.Containers, 2)
	require.Equal(t, core.ContainerProfile{
		Name: "browser", RuntimeType: "browser", Image: "bay-browser:latest", Port: 8124, CPUs: 1, Memory: "1g", MemoryBytes: 1 << 30,
		PidsLimit: 1024, Shm: "256m", ShmBytes: 256 << 20, Env: map[string]string{}, Capabilities: []string{"browser"},
		Browser: &core.BrowserSettings{ChromiumSandbox: "auto", PersistProfile: true, ViewportWidth: 1280, ViewportHeight: 800, Locale: "en-US"},
	}, bp.Containers[1])
}

func TestLoadConfig_EnvOverridesFilePerLeaf(t *testing.T) {
	t.Parallel()
	p := writeFile(t, `
server: {host: "127.0.0.1", port: 8001}
gc:
  enabled: false
  instance_id: from-file
  interval_seconds: 60
workspace: {default_size_limit_mb: 10}
locker: {default_size_limit_mb: 20}
gc_typo: 1
`)
	c, warnings, err := LoadConfig(p, []string{
		"BAY_GC__INSTANCE_ID=from-env",
		"bay_server__port=9000",
		"BAY_SECURITY__API_KEY=secret",
		"BAY_SECURITY__ALLOW_ANONYMOUS=off",
		"BAY_PROFILES=[{\"id\":\"p1\",\"image\":\"ship:latest\",\"resources\":{\"memory\":\"512mb\",\"cpus\":0.5},\"runtime_port\":null}]",
		"BAY_SECURITY__BLOCKED_HOSTS=[\"10.0.0.0/8\"]",
		"BAY_CONFIG_FILE=/ignored",
		"OTHER=1",
	})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", c.Server.Host)
	require.Equal(t, 9000, c.Server.Port)
	require.Equal(t, "from-env", c.GC.InstanceID)
	require.False(t, c.GC.Enabled, "file value kept where env is silent")
	require.Equal(t, 60, c.GC.IntervalSeconds)
	require.EqualValues(t, 20, c.Locker.DefaultSizeLimitMB, "locker: wins over its alias workspace:")
	require.Equal(t, "secret", c.Security.APIKey)
	require.False(t, c.Security.AllowAnonymous)
	require.Equal(t, []string{"10.0.0.0/8"}, c.Security.BlockedHosts)
	require.Len(t, c.Profiles, 1)
	require.Equal(t, "p1", c.Profiles[0].ID)
	require.EqualValues(t, 512<<20, c.Profiles[0].MemoryBytes)
	require.Equal(t, 8000, c.Profiles[0].RuntimePort, "null runtime_port falls back to 8000")
	require.Equal(t, 1800*time.Second, c.Profiles[0].IdleTimeout)
	require.Len(t, warnings, 1)
	require.Contains(t, warnings[0], "gc_typo")
}

// A map is a leaf: the file or a variable replaces the default's entries
// instead of adding to them (yaml.v3 would add).
func TestLoadConfig_MapReplacesDefault(t *testing.T) {
	t.Parallel()
	require.Equal(t, map[string]string{"app": "bay"}, DefaultConfig().Driver.K8s.BayPodLabels)
	p := writeFile(t, "driver: {k8s: {bay_pod_labels: {app.kubernetes.io/name: bay}}}\n")
	c, _, err := LoadConfig(p, nil)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"app.kubernetes.io/name": "bay"}, c.Driver.K8s.BayPodLabels)
	c, _, err = LoadConfig(p, []string{`BAY_DRIVER__K8S__BAY_POD_LABELS={"role":"bay"}`})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"role": "bay"}, c.Driver.K8s.BayPodLabels)
	c, _, err = LoadConfig(writeFile(t, "driver: {k8s: {namespace: sandboxes}}\n"), nil)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"app": "bay"}, c.Driver.K8s.BayPodLabels, "a default the file does not set stays")
}

func TestLoadConfig_ReportsEveryProblem(t *testing.T) {
	t.Parallel()
	p := writeFile(t, `
server: {port: "eighty"}
driver: {type: nomad, docker: {connect_mode: sideways}}
database: {url: "mysql://x"}
profiles:
  - {id: a, resources: {memory: lots}}
  - {id: a}
  - {image: x}
`)
	_, _, err := LoadConfig(p, []string{"BAY_GC__ENABLED=maybe"})
	require.Error(t, err)
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	msg := err.Error()
	for _, want := range []string{"server.port", "nomad", "sideways", "mysql", "resources.memory", "duplicate profile id", "id is required", "gc.enabled"} {
		require.Contains(t, msg, want)
	}
}

func TestLoadConfig_EmptyFileIsDefaults(t *testing.T) {
	t.Parallel()
	c, _, err := LoadConfig(writeFile(t, ""), nil)
	require.NoError(t, err)
	require.Equal(t, DefaultConfig(), c)
}

func TestParseMemory(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"1g": 1 << 30, "1G": 1 << 30, "1.5g": 3 << 29, "512m": 512 << 20, "512mb": 512 << 20,
		"10240k": 10 << 20, "67108864": 64 << 20, "2GB": 2 << 30,
	} {
		got, err := parseMemory(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "lots", "1t", "-1g", "1 g b", "1k"} {
		_, err := parseMemory(in)
		require.Error(t, err, in)
	}
}

func TestParseDatabaseURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][2]string{
		"sqlite+aiosqlite:///./bay.db":  {DatabaseSQLite, "bay.db"},
		"sqlite:///data/bay.db":         {DatabaseSQLite, "data/bay.db"},
		"sqlite:////var/lib/bay/bay.db": {DatabaseSQLite, "/var/lib/bay/bay.db"},
		"sqlite:///:memory:":            {DatabaseSQLite, ":memory:"},
		"postgresql://u:p@h:5432/db":    {DatabasePostgres, "postgres://u:p@h:5432/db"},
		"postgresql+asyncpg://h/db":     {DatabasePostgres, "postgres://h/db"},
		"postgres://h/db?sslmode=off":   {DatabasePostgres, "postgres://h/db?sslmode=off"},
	} {
		kind, addr, err := ParseDatabaseURL(in)
		require.NoError(t, err, in)
		require.Equal(t, want, [2]string{kind, addr}, in)
	}
	for _, in := range []string{"bay.db", "mysql://x", "sqlite://", "sqlite:///"} {
		_, _, err := ParseDatabaseURL(in)
		require.Error(t, err, in)
	}
}

func TestInstanceID(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	require.Equal(t, "bay", c.InstanceID(nil))
	require.Equal(t, "host-1", c.InstanceID([]string{"HOSTNAME=host-1"}))
	c.GC.InstanceID = "set"
	require.Equal(t, "set", c.InstanceID([]string{"HOSTNAME=host-1"}))
}

func TestLoadConfig_ProfileNetwork(t *testing.T) {
	t.Parallel()
	p := writeFile(t, `
profiles:
  - {id: plain}
  - {id: sealed, network: none}
  - id: listed
    network:
      mode: allowlist
      allow: ["pypi.org:443", "203.0.113.0/24", "[2001:db8::1]:8080", "198.51.100.7"]
      allow_bay_api: true
`)
	c, _, err := LoadConfig(p, nil)
	require.NoError(t, err)
	require.Equal(t, core.NetworkOpen, c.Profiles[0].NetworkMode(), "open unless a profile says otherwise")
	require.Equal(t, core.NetworkNone, c.Profiles[1].Network.Mode)
	listed := c.Profiles[2].Network
	require.Equal(t, core.NetworkAllowlist, listed.Mode)
	require.True(t, listed.AllowBayAPI)
	got := make([]string, 0, len(listed.Allow))
	for _, r := range listed.Allow {
		got = append(got, r.String())
	}
	require.Equal(t, []string{"pypi.org:443", "203.0.113.0/24", "[2001:db8::1]:8080", "198.51.100.7"}, got)
	require.Equal(t, "pypi.org", listed.Allow[0].Host)
	require.Equal(t, 443, listed.Allow[0].Port)
}

func TestLoadConfig_ProfileIdlePause(t *testing.T) {
	t.Parallel()
	c, _, err := LoadConfig(writeFile(t, `
profiles:
  - {id: plain}
  - {id: pausing, idle_pause: 60, idle_timeout: 600}
`), nil)
	require.NoError(t, err)
	require.Zero(t, c.Profiles[0].IdlePause, "off unless a profile sets it")
	require.Equal(t, time.Minute, c.Profiles[1].IdlePause)
	require.Equal(t, 10*time.Minute, c.Profiles[1].IdleTimeout)

	_, _, err = LoadConfig(writeFile(t, `
profiles:
  - {id: a, idle_pause: -1}
  - {id: b, idle_pause: 600, idle_timeout: 600}
  - {id: c, idle_pause: 1800}
  - {id: d, idle_pause: 0, idle_timeout: 5}
`), nil)
	require.Error(t, err)
	msg := err.Error()
	require.Contains(t, msg, "[0]: idle_pause: want a number of seconds")
	require.Contains(t, msg, "[1]: idle_pause: 600 is not less than idle_timeout (600)")
	require.Contains(t, msg, "[2]: idle_pause: 1800 is not less than idle_timeout (1800)", "the default idle_timeout counts")
	require.NotContains(t, msg, "[3]")
}

func TestLoadConfig_RefusesWhatBayDoesNotEnforce(t *testing.T) {
	t.Parallel()
	p := writeFile(t, `
database: {echo: true}
driver: {k8s: {namespace: Sandboxes, bay_pod_labels: {app: "not a value"}}}
locker: {root_path: /srv/lockers, mount_path: /data}
security: {blocked_hosts: ["10.0.0.0/8", "metadata.internal"]}
profiles:
  - {id: a, network: sometimes}
  - {id: b, network: {mode: allowlist}}
  - {id: c, network: {mode: open, allow: ["example.com"]}}
  - {id: d, network: {mode: allowlist, allow: ["exa mple.com", "10.0.0.1:99999"]}}
`)
	_, _, err := LoadConfig(p, nil)
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		"database.echo", "driver.k8s.namespace", "driver.k8s.bay_pod_labels", "locker.root_path", "locker.mount_path",
		`blocked host "metadata.internal"`, "mode sometimes", "needs a non-empty allow list",
		"allow is only used with mode allowlist", `"exa mple.com"`, `"10.0.0.1:99999"`,
	} {
		require.Contains(t, msg, want)
	}
	_, _, err = LoadConfig(writeFile(t, "driver: {k8s: {kubeconfig: null, storage_class: null}}\n"), nil)
	require.NoError(t, err, "a null value sets nothing and is accepted")
}

func TestLoadConfig_KeysAndQuotas(t *testing.T) {
	t.Parallel()
	p := writeFile(t, `
security:
  api_keys:
    - {key: alice-secret, owner: alice}
    - {key: "sha256:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b", owner: ops, scopes: [admin]}
quotas:
  max_sandboxes: 10
  max_locker_mb: 4096
  owners:
    alice: {max_sandboxes: 2}
    ops: {max_sandboxes: 0}
`)
	c, _, err := LoadConfig(p, []string{"BAY_QUOTAS__MAX_LOCKERS=7"})
	require.NoError(t, err)
	require.Len(t, c.Security.APIKeys, 2)
	require.Equal(t, "alice", c.Security.APIKeys[0].Owner)
	require.Equal(t, []string{"sandboxes", "lockers"}, c.Security.APIKeys[0].Scopes, "admin is never implied")
	require.Equal(t, []string{"admin"}, c.Security.APIKeys[1].Scopes)
	require.Equal(t, core.Quota{MaxSandboxes: 10, MaxLockers: 7, MaxLockerMB: 4096}, c.Quotas.For("bob"))
	require.Equal(t, core.Quota{MaxSandboxes: 2, MaxLockers: 7, MaxLockerMB: 4096}, c.Quotas.For("alice"),
		"an owner's limits replace the default ones they name, after every source is read")
	require.Equal(t, core.Quota{MaxLockers: 7, MaxLockerMB: 4096}, c.Quotas.For("ops"), "0 lifts a limit")

	_, _, err = LoadConfig(writeFile(t, `
security:
  api_keys:
    - {key: "", owner: a}
    - {key: x, owner: ""}
    - {key: y, owner: b, scopes: [root]}
    - {key: y, owner: c}
    - {key: "sha256:1234", owner: d}
quotas:
  max_sandboxes: -1
  owners: {alice: {max_cpus: 3}}
`), nil)
	require.Error(t, err)
	for _, want := range []string{"[0]: key: empty key", "[1]: owner", `unknown scope "root"`, "listed twice", "sha256: wants 64 hex digits", "quotas.max_sandboxes", "unknown limit max_cpus"} {
		require.Contains(t, err.Error(), want)
	}
}

func TestLoadConfig_AliasesLoseToBayNames(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "workspace: {default_size_limit_mb: 10}\ngc: {orphan_workspace: {enabled: false}}\n")
	c, warnings, err := LoadConfig(p, nil)
	require.NoError(t, err)
	require.Empty(t, warnings)
	require.EqualValues(t, 10, c.Locker.DefaultSizeLimitMB)
	require.False(t, c.GC.OrphanLocker)

	c, _, err = LoadConfig(p, []string{"BAY_WORKSPACE__DEFAULT_SIZE_LIMIT_MB=30"})
	require.NoError(t, err)
	require.EqualValues(t, 30, c.Locker.DefaultSizeLimitMB, "a variable under the alias still wins over the file")

	c, _, err = LoadConfig(p, []string{"BAY_LOCKER__DEFAULT_SIZE_LIMIT_MB=40", "BAY_WORKSPACE__DEFAULT_SIZE_LIMIT_MB=30"})
	require.NoError(t, err)
	require.EqualValues(t, 40, c.Locker.DefaultSizeLimitMB, "Bay's name wins among variables too")
}

func TestLoadConfig_AnchorsAndUnknownKeys(t *testing.T) {
	t.Parallel()
	p := writeFile(t, `
x-base: &base {image: "ship:data", resources: {cpus: 2}}
server: {port: 8001, colour: blue}
gc:
profiles:
  - <<: *base
    id: a
  - {<<: *base, id: b, image: other}
`)
	c, warnings, err := LoadConfig(p, nil)
	require.NoError(t, err)
	require.Len(t, warnings, 2, "a section left empty is no unknown key: %v", warnings)
	require.Contains(t, warnings[0]+warnings[1], `"x-base"`)
	require.Contains(t, warnings[0]+warnings[1], `"server.colour"`)
	require.Equal(t, 8001, c.Server.Port)
	require.Len(t, c.Profiles, 2)
	require.Equal(t, "ship:data", c.Profiles[0].Image)
	require.Equal(t, "other", c.Profiles[1].Image, "a key of the entry wins over a merged one")
	require.InDelta(t, 2.0, c.Profiles[1].CPUs, 0)
	require.Equal(t, 8123, c.Profiles[1].RuntimePort, "what the entry leaves out keeps its default")

	_, _, err = LoadConfig(writeFile(t, "profiles: [{id: a, colour: blue}, 5]\n"), nil)
	require.ErrorContains(t, err, "[0]: unknown key colour", "inside an entry an unknown key is an error")
	require.ErrorContains(t, err, "[1]: want a mapping, got 5")
	require.NotContains(t, err.Error(), "[1]: id is required", "no news about an entry that is not one")
}

func TestLoadConfig_VariablesAreLoose(t *testing.T) {
	t.Parallel()
	c, warnings, err := LoadConfig("", []string{
		"BAY_CONFIG_FILE=/nonexistent",
		"BAY_GC__ENABLED=on",
		"BAY_IDEMPOTENCY__ENABLED=0",
		"BAY_SERVER__PORT= 8002 ",
		"BAY_DRIVER__DOCKER__HOST_PORT=",
		"BAY_GC__INSTANCE_ID=123",
		`BAY_QUOTAS__OWNERS={"a":{"max_lockers":1}}`,
		`BAY_PROFILES=[{"id":"j","network":"none","runtime_port":0,"env":{"N":1},"resources":{"memory":1073741824}}]`,
		"BAY_GC=ignored", "BAY_PROFILES__0__ID=ignored",
	})
	require.NoError(t, err)
	require.Empty(t, warnings)
	require.True(t, c.GC.Enabled)
	require.False(t, c.Idempotency.Enabled)
	require.Equal(t, 8002, c.Server.Port)
	require.Equal(t, 0, c.Driver.Docker.HostPort)
	require.Equal(t, "123", c.GC.InstanceID)
	require.Equal(t, core.Quota{MaxLockers: 1}, c.Quotas.For("a"))
	require.Len(t, c.Profiles, 1)
	require.Equal(t, core.NetworkNone, c.Profiles[0].Network.Mode)
	require.Equal(t, core.DefaultRuntimePort, c.Profiles[0].RuntimePort)
	require.Equal(t, map[string]string{"N": "1"}, c.Profiles[0].Env)
	require.EqualValues(t, 1<<30, c.Profiles[0].MemoryBytes)

	_, _, err = LoadConfig("", []string{"BAY_CONFIG_FILE=/nonexistent", `BAY_SECURITY__BLOCKED_HOSTS=["10.0.0.0/8"] x`})
	require.ErrorContains(t, err, "security.blocked_hosts (environment variable BAY_SECURITY__BLOCKED_HOSTS): want JSON")
}

func TestLoadConfig_LockerSizeEnforcement(t *testing.T) {
	t.Parallel()
	c, _, err := LoadConfig(writeFile(t, ""), nil)
	require.NoError(t, err)
	require.Equal(t, "explicit", c.Locker.EnforceSizeLimits, "a size asked for is a size held")
	for _, v := range []string{"off", "all", "explicit"} {
		c, _, err := LoadConfig(writeFile(t, "locker: {enforce_size_limits: "+v+"}\n"), nil)
		require.NoError(t, err, v)
		require.Equal(t, v, c.Locker.EnforceSizeLimits)
	}
	_, _, err = LoadConfig(writeFile(t, ""), []string{"BAY_LOCKER__ENFORCE_SIZE_LIMITS=sometimes"})
	require.ErrorContains(t, err, "locker.enforce_size_limits")
}

func TestLoadConfig_ProfileContainers(t *testing.T) {
	t.Parallel()
	c, _, err := LoadConfig(writeFile(t, `
profiles:
  - id: browser-python
    idle_timeout: 600
    env: {A: profile}
    network: none
    containers:
      - name: ship
        runtime_type: ship
        image: "ship:latest"
        runtime_port: 9000
        resources: {cpus: 0.5, memory: "512m", pids: 100}
        capabilities: [filesystem, python]
      - name: web
        runtime_type: browser
        resources: {shm: "128m"}
        env: {B: container}
        browser:
          chromium_sandbox: require
          viewport: {width: 800, height: 600}
          user_agent: null
  - id: legacy
    image: "ship:data"
    runtime_type: ship
`), []string{"BAY_CONFIG_FILE=/nonexistent.yaml"})
	require.NoError(t, err)
	p := c.Profiles[0]
	require.Equal(t, []string{"filesystem", "python", "browser"}, p.Capabilities)
	require.Equal(t, 9000, p.RuntimePort, "runtime_port is port's alias; the profile's port is the first container's")
	require.Equal(t, "ship:latest", p.Image)
	require.InDelta(t, 0.5, p.CPUs, 0)
	require.Equal(t, core.NetworkNone, p.Network.Mode, "one egress policy for the session")
	require.Equal(t, "ship", p.Containers[0].Name)
	require.EqualValues(t, 512<<20, p.Containers[0].MemoryBytes)
	web := p.Containers[1]
	require.Equal(t, "web", web.Name)
	require.Equal(t, "bay-browser:latest", web.Image, "a browser container's default image")
	require.Equal(t, 8124, web.Port)
	require.EqualValues(t, 1024, web.PidsLimit, "what resources leaves out keeps the type's default")
	require.EqualValues(t, 1<<30, web.MemoryBytes)
	require.EqualValues(t, 128<<20, web.ShmBytes)
	require.Equal(t, map[string]string{"B": "container"}, web.Env)
	require.Equal(t, &core.BrowserSettings{ChromiumSandbox: "require", PersistProfile: true, ViewportWidth: 800, ViewportHeight: 600, Locale: "en-US"}, web.Browser)
	require.Equal(t, []string{"browser"}, web.Capabilities)
	require.Equal(t, []core.ContainerProfile{{Name: "ship", RuntimeType: "ship", Image: "ship:data", Port: 8123, CPUs: 1, Memory: "1g",
		MemoryBytes: 1 << 30, PidsLimit: 512, Capabilities: []string{"filesystem", "shell", "python"}}}, c.Profiles[1].Containers)

	// The same through the environment, as JSON.
	c, _, err = LoadConfig("", []string{"BAY_CONFIG_FILE=/nonexistent.yaml",
		`BAY_PROFILES=[{"id":"bp","containers":[{"name":"ship","runtime_type":"ship"},{"name":"browser","runtime_type":"browser","port":8200}]}]`})
	require.NoError(t, err)
	require.Len(t, c.Profiles[0].Containers, 2)
	require.Equal(t, 8200, c.Profiles[0].Containers[1].Port)
	require.Equal(t, []string{"filesystem", "shell", "python", "browser"}, c.Profiles[0].Capabilities)
}

func TestLoadConfig_ProfileContainersInvalid(t *testing.T) {
	t.Parallel()
	_, _, err := LoadConfig(writeFile(t, `
profiles:
  - id: both
    image: "ship:latest"
    containers: [{name: ship, runtime_type: ship}]
  - id: none
    containers: []
  - id: many
    containers:
      - {name: a, runtime_type: ship, port: 9001, capabilities: [python]}
      - {name: b, runtime_type: ship, port: 9002, capabilities: [shell]}
      - {name: c, runtime_type: ship, port: 9003, capabilities: [filesystem]}
      - {name: d, runtime_type: ship, port: 9004, capabilities: []}
      - {name: e, runtime_type: ship, port: 9005, capabilities: []}
  - id: clashes
    containers:
      - {name: Ship, runtime_type: ship}
      - {name: twin, runtime_type: ship, port: 8123, capabilities: [python]}
      - {name: twin, runtime_type: gull, port: 9000, capabilities: [shell]}
      - {name: browser, runtime_type: browser, capabilities: [browser, python], browser: {chromium_sandbox: maybe, viewport: {width: 0, height: 10}}}
      - {name: odd, runtime_type: ship, port: 8125, capabilities: [browser], browser: {locale: de}, resources: {cpus: 0, memory: lots, pids: 0, shm: huge}}
  - id: alias
    containers: [{name: ship, runtime_type: ship, port: 9000, runtime_port: 9001}]
`), []string{"BAY_CONFIG_FILE=/nonexistent.yaml"})
	var cerr *ConfigError
	require.ErrorAs(t, err, &cerr)
	msg := err.Error()
	for _, want := range []string{
		"[0]: image: not allowed beside containers",
		"[1]: containers: want 1 to 4 containers, got 0",
		"[2]: containers: want 1 to 4 containers, got 5",
		`[3]: containers[0].name: "Ship" does not match`,
		`[3]: containers[2].name: "twin" is the name of containers[1] too`,
		"[3]: containers[1].port: 8123 is container Ship's too",
		"[3]: containers[1].capabilities: python is container Ship's already",
		`[3]: containers[2].runtime_type: "gull" is not one of ship, browser`,
		"[3]: containers[3].capabilities: a browser container declares exactly [browser]",
		`[3]: containers[3].browser.chromium_sandbox: "maybe" is not one of auto, require, off`,
		"[3]: containers[3].browser.viewport: want width and height from 1 to 16384",
		"[3]: containers[4].capabilities: browser belongs to a container of runtime_type browser",
		"[3]: containers[4].browser: only for a container of runtime_type browser",
		"[3]: containers[4].resources.cpus: must be positive",
		"[3]: containers[4].resources.memory",
		"[3]: containers[4].resources.pids: want a positive integer",
		"[3]: containers[4].resources.shm",
		"[4]: containers[0].port: 9000 differs from runtime_port 9001",
	} {
		require.Contains(t, msg, want)
	}
}

func TestBrowserSeccomp(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	require.Contains(t, browserSeccomp("", log), `"unshare"`, "Bay's built-in profile by default")
	p := writeFile(t, `{"defaultAction":"SCMP_ACT_ERRNO"}`)
	require.JSONEq(t, `{"defaultAction":"SCMP_ACT_ERRNO"}`, browserSeccomp(p, log), "an operator's file replaces it")
	require.Empty(t, browserSeccomp(filepath.Join(t.TempDir(), "missing.json"), log), "a missing file is Docker's default")
}
