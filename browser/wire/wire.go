package wire

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// Routes of browserd (browser.md §5.1).
const (
	PathHealth    = "/health"
	PathMeta      = "/meta"
	PathExec      = "/exec"
	PathExecBatch = "/exec_batch"
)

// DefaultPort is browserd's port (BROWSERD_PORT).
const DefaultPort = "8124"

// TokenEnv carries the per-session runtime token (browser.md §6).
const TokenEnv = "BAY_RUNTIME_TOKEN" // #nosec G101 -- the variable's name, not a credential

// AuthBearer is /meta's runtime.auth of a runtime that checks the token.
const AuthBearer = "bearer"

// UnauthorizedDetail is the detail of a 401, and Challenge the
// WWW-Authenticate header that goes with it.
const (
	UnauthorizedDetail = "missing or invalid runtime token"
	Challenge          = `Bearer realm="browser"`
)

// Open reports whether r may go without the token: only GET /health, the
// exact path. It is the rule of Ship (ship/wire), which the browser
// runtime shares but does not import: the two runtimes stand apart.
func Open(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.Path == PathHealth
}

// Authorized reports whether r carries "Authorization: Bearer <token>",
// from that header only. The scheme is matched case-insensitively (RFC
// 9110 §11.1), the credential exactly and in constant time; an empty token
// matches nothing (fail closed).
func Authorized(r *http.Request, token string) bool {
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(cred), []byte(token)) == 1
}

// Health is the answer of GET /health: 200 with StatusHealthy once
// Chromium runs with a blank tab; 503 with StatusStarting or
// StatusRestarting while it is not ready, and with StatusFailed (and
// Error) when it cannot start at all, which ends Bay's readiness wait.
type Health struct {
	Status          string `json:"status"`
	ChromiumSandbox *bool  `json:"chromium_sandbox,omitempty"`
	Error           string `json:"error,omitempty"`
}

// Health statuses.
const (
	StatusHealthy    = "healthy"
	StatusStarting   = "starting"
	StatusRestarting = "restarting"
	StatusFailed     = "failed"
	StatusStopping   = "stopping"
)

// Error is the body of every error status: Detail is a message, a list of
// ValidationItem (422) or a PathError (400).
type Error struct {
	Detail any `json:"detail"`
}

// ValidationItem is one entry of a 422 answer; Loc is the field's
// location, e.g. ["body", "commands", 2, "ref"].
type ValidationItem struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// CapabilityBrowser is the capability key of /meta, and OpExec and
// OpExecBatch its operations.
const (
	CapabilityBrowser = "browser"
	OpExec            = "exec"
	OpExecBatch       = "exec_batch"
)

// Engine is the engine /meta names.
const Engine = "chromium-headless-shell"

// Profile kinds of /meta (browser.md §3.7).
const (
	ProfilePersistent = "persistent"
	ProfileEphemeral  = "ephemeral"
)

// Meta is the answer of GET /meta (browser.md §2).
type Meta struct {
	Runtime      MetaRuntime           `json:"runtime"`
	Workspace    MetaWorkspace         `json:"workspace"`
	Capabilities map[string]Capability `json:"capabilities"`
}

// MetaRuntime describes the runtime itself.
type MetaRuntime struct {
	Name       string    `json:"name"`
	Version    string    `json:"version"`
	APIVersion string    `json:"api_version"`
	Auth       string    `json:"auth"`
	Build      MetaBuild `json:"build"`
}

// MetaBuild names the image the runtime was built into; unknown values
// are null.
type MetaBuild struct {
	Image       string  `json:"image"`
	ImageDigest *string `json:"image_digest"`
	GitSHA      *string `json:"git_sha"`
}

// MetaWorkspace says where the workspace is mounted.
type MetaWorkspace struct {
	MountPath string `json:"mount_path"`
}

// Capability is /meta's browser capability: the operations and their
// routes, as Ship's capabilities have them, plus the engine, whether
// Chromium's own sandbox is on, the profile kind and the actions.
type Capability struct {
	Operations      []string          `json:"operations"`
	Endpoints       map[string]string `json:"endpoints"`
	Engine          string            `json:"engine"`
	EngineVersion   string            `json:"engine_version"`
	ChromiumSandbox bool              `json:"chromium_sandbox"`
	Profile         string            `json:"profile"`
	Actions         []string          `json:"actions"`
}
