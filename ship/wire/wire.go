package wire

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// Paths of the routes Bay uses (spec/ship.md §4).
const (
	PathHealth     = "/health"
	PathMeta       = "/meta"
	PathPythonExec = "/ipython/exec"
	PathShellExec  = "/shell/exec"
	PathReadFile   = "/fs/read_file"
	PathWriteFile  = "/fs/write_file"
	PathDeleteFile = "/fs/delete_file"
	PathListDir    = "/fs/list_dir"
	PathUpload     = "/fs/upload"
	PathDownload   = "/fs/download"
)

// Error is the body of every error status (spec/ship.md §3): Detail is a
// message, or for 422 a list of ValidationItem.
type Error struct {
	Detail any `json:"detail"`
}

// ValidationItem is one entry of a 422 answer.
type ValidationItem struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// AuthBearer is the value of /meta's runtime.auth for a runtime that checks
// the bearer token. Bay refuses runtimes that do not declare it.
const AuthBearer = "bearer"

// UnauthorizedDetail is the detail of a 401, and Challenge the
// WWW-Authenticate header that goes with it.
const (
	UnauthorizedDetail = "missing or invalid runtime token"
	Challenge          = `Bearer realm="ship"`
)

// Open reports whether r may go without the token: only GET /health, the
// exact path (anything a mux would redirect or match differently still
// needs it). Bay polls it for readiness, and it reveals nothing.
func Open(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.Path == PathHealth
}

// Authorized reports whether r carries "Authorization: Bearer <token>". The
// token is read from that header only, never from the query string, where
// it would end up in logs and browser history. The scheme name is matched
// case-insensitively, as RFC 9110 §11.1 defines auth schemes; the
// credential must match exactly. An empty token matches nothing (fail
// closed). subtle.ConstantTimeCompare keeps the comparison time independent
// of how many leading bytes match (it returns early only on a length
// mismatch, and the token's length is no secret).
func Authorized(r *http.Request, token string) bool {
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(cred), []byte(token)) == 1
}

// Health is the answer of GET /health.
type Health struct {
	Status string `json:"status"`
}

// StatusHealthy is Health.Status of a ready runtime.
const StatusHealthy = "healthy"

// Capability keys of /meta. Bay checks that the key of a call's capability
// is present before it calls (upload and download count as filesystem).
const (
	CapabilityFilesystem = "filesystem"
	CapabilityShell      = "shell"
	CapabilityPython     = "python"
	CapabilityTerminal   = "terminal"
)

// Meta is the answer of GET /meta (spec/ship.md §5). Bay reads
// Runtime.Auth and the keys of Capabilities.
type Meta struct {
	Runtime      MetaRuntime           `json:"runtime"`
	Workspace    MetaWorkspace         `json:"workspace"`
	Capabilities map[string]Capability `json:"capabilities"`
}

// MetaRuntime describes the runtime itself.
type MetaRuntime struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	APIVersion string `json:"api_version"`
	// Auth is AuthBearer for a runtime that checks the token.
	Auth  string    `json:"auth"`
	Build MetaBuild `json:"build"`
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

// Capability describes one capability: its operations and the route of
// each.
type Capability struct {
	Operations []string          `json:"operations"`
	PathMode   string            `json:"path_mode,omitempty"`
	Engine     string            `json:"engine,omitempty"`
	Protocol   string            `json:"protocol,omitempty"`
	Endpoints  map[string]string `json:"endpoints"`
}
