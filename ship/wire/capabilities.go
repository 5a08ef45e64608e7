package wire

// RuntimeInfo is the answer of GET /capabilities (agent-reach.md §6.1):
// what the runtime contains, constant for the container's life. The keys
// of Capabilities and their Operations equal /meta's. Versions, packages
// and tools come from the image's inventory and are left out when the
// image has none.
type RuntimeInfo struct {
	APIVersion   string                       `json:"api_version"`
	Runtime      RuntimeInfoRuntime           `json:"runtime"`
	OS           *RuntimeOS                   `json:"os,omitempty"`
	User         RuntimeUser                  `json:"user"`
	Workspace    MetaWorkspace                `json:"workspace"`
	Limits       RuntimeLimits                `json:"limits"`
	Capabilities map[string]RuntimeCapability `json:"capabilities"`
}

// RuntimeInfoRuntime names the runtime and its image.
type RuntimeInfoRuntime struct {
	Name        string  `json:"name"`
	Version     string  `json:"version"`
	Image       string  `json:"image"`
	ImageDigest *string `json:"image_digest"`
}

// RuntimeOS is the ID and VERSION_ID of /etc/os-release.
type RuntimeOS struct {
	ID        string `json:"id"`
	VersionID string `json:"version_id,omitempty"`
}

// RuntimeUser is the account code runs as. Sudo is true only when the
// container runs without no-new-privileges (a profile's allow_sudo) and
// sudo is installed.
type RuntimeUser struct {
	Name string `json:"name"`
	UID  int    `json:"uid"`
	Home string `json:"home"`
	Sudo bool   `json:"sudo"`
}

// RuntimeLimits are the container's cgroup v2 limits; null means none.
type RuntimeLimits struct {
	MemoryBytes *int64   `json:"memory_bytes"`
	CPUs        *float64 `json:"cpus"`
	PIDs        *int64   `json:"pids"`
}

// RuntimeCapability describes one capability of GET /capabilities. Which
// fields beyond Operations are set depends on the capability: python
// (Version, Engine, EngineVersion, DisplayMIMETypes, Packages), shell
// (Shell, Tools), terminal (Protocol, Resize, Term).
type RuntimeCapability struct {
	Operations       []string          `json:"operations"`
	Version          string            `json:"version,omitempty"`
	Engine           string            `json:"engine,omitempty"`
	EngineVersion    string            `json:"engine_version,omitempty"`
	DisplayMIMETypes []string          `json:"display_mime_types,omitempty"`
	Packages         map[string]string `json:"packages,omitempty"`
	Shell            string            `json:"shell,omitempty"`
	Tools            map[string]string `json:"tools,omitempty"`
	Protocol         string            `json:"protocol,omitempty"`
	Resize           bool              `json:"resize,omitempty"`
	Term             string            `json:"term,omitempty"`
}
