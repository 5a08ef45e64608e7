package browser

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig of screenshots
	_ "image/png"  // DecodeConfig of screenshots
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/bayhq/bay/browser/wire"
)

// hostPort is "localhost:8080" or "127.0.0.1:8080/x": a host with a port
// and no scheme, which url.Parse would read as a scheme.
var hostPort = regexp.MustCompile(`^[A-Za-z0-9.-]+:[0-9]+(/.*)?$`)

// schemePattern is a URL that names its scheme.
var schemePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// allowedURL checks a URL a command navigates to (browser.md §3.2):
// http(s), data:, about:blank, and file: under the workspace only. A URL
// without a scheme gets https:// (http:// for host:port), as upstream's
// CLI does.
func (e *Engine) allowedURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	switch {
	case hostPort.MatchString(raw):
		raw = "http://" + raw
	case !schemePattern.MatchString(raw):
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fail(wire.ErrInvalidArgument, "invalid URL %q: %v", raw, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return "", fail(wire.ErrInvalidArgument, "invalid URL %q: no host", raw)
		}
		return raw, nil
	case "data":
		return raw, nil
	case "about":
		if strings.EqualFold(raw, "about:blank") {
			return raw, nil
		}
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			break
		}
		p := path.Clean(u.Path)
		if p != wire.MountPath && !strings.HasPrefix(p, wire.MountPath+"/") {
			break
		}
		// The file as the browser will open it: below the real workspace,
		// symbolic links followed.
		local := filepath.Join(e.cfg.Workspace, strings.TrimPrefix(p, wire.MountPath))
		if !e.inWorkspace(local) {
			break
		}
		u.Path = "/" + strings.TrimPrefix(filepath.ToSlash(mustAbs(local)), "/")
		return u.String(), nil
	}
	return "", fail(wire.ErrURLNotAllowed, "%s URLs are not allowed: use http(s), data:, about:blank, or file:///workspace/…", schemeOf(raw))
}

func schemeOf(raw string) string {
	if i := strings.IndexByte(raw, ':'); i > 0 {
		return strings.ToLower(raw[:i]) + ":"
	}
	return raw
}

func mustAbs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// inWorkspace reports whether p, with symbolic links resolved as far as
// it exists, lies in the workspace.
func (e *Engine) inWorkspace(p string) bool {
	root, err := filepath.EvalSymlinks(e.cfg.Workspace)
	if err != nil {
		return false
	}
	real := resolveExisting(mustAbs(p))
	return real == root || strings.HasPrefix(real, root+string(filepath.Separator))
}

// resolveExisting resolves the symbolic links of the longest existing
// prefix of p and appends the rest.
func resolveExisting(p string) string {
	rest := ""
	for cur := p; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return p
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// writeFile writes data to a path relative to the workspace, creating the
// parent directories, through an os.Root so that no symbolic link leads
// out of the workspace. It returns the path as commands name it.
func (e *Engine) writeFile(rel string, data []byte) (string, error) {
	root, err := os.OpenRoot(e.cfg.Workspace)
	if err != nil {
		return "", err
	}
	defer root.Close()
	if dir := path.Dir(rel); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return "", fail(wire.ErrInvalidArgument, "cannot create %s: %v", dir, err)
		}
	}
	if err := root.WriteFile(rel, data, 0o644); err != nil {
		return "", fail(wire.ErrInvalidArgument, "cannot write %s: %v", rel, err)
	}
	return rel, nil
}

// uploadFile returns the absolute path of a workspace file for a file
// input: a regular file, inside the workspace after symbolic links.
func (e *Engine) uploadFile(rel string) (string, error) {
	p := filepath.Join(e.cfg.Workspace, filepath.FromSlash(rel))
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fail(wire.ErrInvalidArgument, "cannot upload %s: %v", rel, err)
	}
	if !e.inWorkspace(real) {
		return "", fail(wire.ErrInvalidArgument, "cannot upload %s: it leads out of the workspace", rel)
	}
	fi, err := os.Stat(real)
	if err != nil || !fi.Mode().IsRegular() {
		return "", fail(wire.ErrInvalidArgument, "cannot upload %s: not a regular file", rel)
	}
	return real, nil
}

// imageSize reads the dimensions of a PNG or JPEG.
func imageSize(data []byte) (int, int, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return 0, 0, fmt.Errorf("decode screenshot: %w", err)
	}
	return cfg.Width, cfg.Height, nil
}
