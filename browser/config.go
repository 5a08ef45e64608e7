package browser

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Sandbox modes of Chromium's own sandbox (browser.md §6).
const (
	// SandboxAuto uses the sandbox when user namespaces work, else runs
	// without it, logs a warning and says so in /meta.
	SandboxAuto = "auto"
	// SandboxRequire fails readiness when the sandbox cannot run.
	SandboxRequire = "require"
	// SandboxOff always passes --no-sandbox.
	SandboxOff = "off"
)

// Config configures the Engine and the Server.
type Config struct {
	// Workspace is the Locker's mount (/workspace): screenshots, PDFs and
	// downloads go there, uploads come from there, and the persistent
	// profile lives in .bay/browser/profile below it.
	Workspace string
	// TmpDir holds what must not reach the Locker: HOME, the HTTP cache,
	// an ephemeral profile (/tmp/browser).
	TmpDir string
	// Chromium is the browser binary; empty finds chromium-headless-shell.
	Chromium string
	// Sandbox is SandboxAuto, SandboxRequire or SandboxOff.
	Sandbox string
	// PersistProfile keeps the profile on the Locker (browser.md §3.7).
	PersistProfile bool
	// Width and Height are the viewport; Locale Chromium's --lang;
	// UserAgent, when set, replaces Chromium's.
	Width, Height int
	Locale        string
	UserAgent     string
	// Token is the runtime token every route but GET /health needs.
	Token string
	// Version, Image, ImageDigest and GitSHA are reported by /meta.
	Version     string
	Image       string
	ImageDigest string
	GitSHA      string
	// Logger receives the runtime's log, ChromiumLog Chromium's own output
	// (nil discards it).
	Logger      *slog.Logger
	ChromiumLog *os.File
}

// Environment variables of browserd (browser.md §1.3: Bay passes the
// profile's browser settings as BROWSERD_*).
const (
	EnvPort           = "BROWSERD_PORT"
	EnvWorkspace      = "BROWSERD_WORKSPACE"
	EnvTmpDir         = "BROWSERD_TMP_DIR"
	EnvChromium       = "BROWSERD_CHROMIUM"
	EnvSandbox        = "BROWSERD_CHROMIUM_SANDBOX"
	EnvPersistProfile = "BROWSERD_PERSIST_PROFILE"
	EnvViewport       = "BROWSERD_VIEWPORT"
	EnvViewportWidth  = "BROWSERD_VIEWPORT_WIDTH"
	EnvViewportHeight = "BROWSERD_VIEWPORT_HEIGHT"
	EnvLocale         = "BROWSERD_LOCALE"
	EnvUserAgent      = "BROWSERD_USER_AGENT"
	EnvImage          = "BROWSERD_IMAGE"
	EnvImageDigest    = "BROWSERD_IMAGE_DIGEST"
	EnvGitSHA         = "GIT_SHA"
)

// ConfigFromEnv reads the settings from getenv (os.Getenv), with the
// defaults of browser.md §1.1.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	cfg := Config{
		Workspace:   get(EnvWorkspace, "/workspace"),
		TmpDir:      get(EnvTmpDir, filepath.Join(os.TempDir(), "browser")),
		Chromium:    getenv(EnvChromium),
		Sandbox:     strings.ToLower(get(EnvSandbox, SandboxAuto)),
		Locale:      get(EnvLocale, "en-US"),
		UserAgent:   getenv(EnvUserAgent),
		Image:       get(EnvImage, "bay-browser:latest"),
		ImageDigest: getenv(EnvImageDigest),
		GitSHA:      getenv(EnvGitSHA),
		Width:       1280,
		Height:      800,
	}
	var problems []string
	switch cfg.Sandbox {
	case SandboxAuto, SandboxRequire, SandboxOff:
	default:
		problems = append(problems, fmt.Sprintf("%s=%q: want auto, require or off", EnvSandbox, cfg.Sandbox))
	}
	persist, err := strconv.ParseBool(get(EnvPersistProfile, "true"))
	if err != nil {
		problems = append(problems, fmt.Sprintf("%s=%q: want true or false", EnvPersistProfile, getenv(EnvPersistProfile)))
	}
	cfg.PersistProfile = persist
	// The viewport comes as WIDTHxHEIGHT or as two variables (what Bay
	// sets); the pair wins.
	if w, h := getenv(EnvViewportWidth), getenv(EnvViewportHeight); w != "" || h != "" {
		v := w + "x" + h
		if vw, vh, ok := parseViewport(v); ok {
			cfg.Width, cfg.Height = vw, vh
		} else {
			problems = append(problems, fmt.Sprintf("%s=%q, %s=%q: want two numbers, each 100-10000", EnvViewportWidth, w, EnvViewportHeight, h))
		}
	} else if v := getenv(EnvViewport); v != "" {
		w, h, ok := parseViewport(v)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s=%q: want WIDTHxHEIGHT, each 100-10000", EnvViewport, v))
		}
		cfg.Width, cfg.Height = w, h
	}
	if !localePattern(cfg.Locale) {
		problems = append(problems, fmt.Sprintf("%s=%q: want a language tag such as en-US", EnvLocale, cfg.Locale))
	}
	if strings.ContainsAny(cfg.UserAgent, "\x00\r\n") {
		problems = append(problems, EnvUserAgent+" contains a control character")
	}
	if len(problems) > 0 {
		return cfg, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return cfg, nil
}

func parseViewport(v string) (w, h int, ok bool) {
	ws, hs, found := strings.Cut(strings.ToLower(v), "x")
	if !found {
		return 0, 0, false
	}
	w, err1 := strconv.Atoi(strings.TrimSpace(ws))
	h, err2 := strconv.Atoi(strings.TrimSpace(hs))
	if err1 != nil || err2 != nil || w < 100 || h < 100 || w > 10000 || h > 10000 {
		return 0, 0, false
	}
	return w, h, true
}

// localePattern accepts language tags: letters, digits and hyphens.
func localePattern(s string) bool {
	if s == "" || len(s) > 35 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// chromiumCandidates are tried in order when Config.Chromium is empty: the
// real binary first, since Debian's /usr/bin/chromium-headless-shell is a
// shell script that does not exec it (a kill of the script would not
// reach Chromium).
var chromiumCandidates = []string{
	"/usr/lib/chromium/chromium-headless-shell",
	"chromium-headless-shell",
	"/usr/lib/chromium/chromium",
	"chromium",
	"headless_shell",
	"google-chrome",
}

// FindChromium returns the browser binary: path if set, else the first of
// the candidates found.
func FindChromium(path string) (string, error) {
	if path != "" {
		return exec.LookPath(path)
	}
	for _, c := range chromiumCandidates {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Chromium found (tried %s); install chromium-headless-shell or set %s", strings.Join(chromiumCandidates, ", "), EnvChromium)
}
