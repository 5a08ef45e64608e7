package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/bayhq/bay/ship/kernel"
	"github.com/bayhq/bay/ship/runas"
	"github.com/bayhq/bay/ship/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "unknown"

// tokenEnv carries the per-session runtime token from Bay (spec/ship.md §1).
const tokenEnv = "BAY_RUNTIME_TOKEN" // #nosec G101 -- the variable's name, not a credential

// takeToken reads the runtime token and removes it from the environment.
// The kernel, shell commands and the terminal all build their environment
// from os.Environ() (ship/runas), so once it is unset no user process
// inherits it. Ship's own /proc/<pid>/environ keeps the variable (Go
// cannot rewrite the initial environment block); in the image Ship runs as
// root, and the sandbox user (uid 1000) cannot read a root process's
// environ.
func takeToken() string {
	token := os.Getenv(tokenEnv)
	_ = os.Unsetenv(tokenEnv)
	return token
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ship:", err)
		os.Exit(1)
	}
}

func run() error {
	// First, before anything can start a child process.
	token := takeToken()
	var (
		workspace = flag.String("workspace", env("SHIP_WORKSPACE", "/workspace"), "workspace root ($SHIP_WORKSPACE)")
		port      = flag.String("port", env("SHIP_PORT", "8123"), "listen port ($SHIP_PORT)")
		python    = flag.String("python", kernel.FindPython(), "python with ipykernel ($SHIP_PYTHON)")
		stateDir  = flag.String("state-dir", env("SHIP_STATE_DIR", filepath.Join(os.TempDir(), "ship")), "private kernel state, outside the workspace ($SHIP_STATE_DIR)")
		inventory = flag.String("inventory", env("SHIP_INVENTORY", server.DefaultInventoryPath), "the image's inventory for GET /capabilities ($SHIP_INVENTORY)")
		cgroupDir = flag.String("cgroup-dir", env("SHIP_CGROUP_DIR", "/sys/fs/cgroup"), "cgroup v2 directory with the container's limits ($SHIP_CGROUP_DIR)")
		prestart  = flag.Bool("prestart-kernel", env("SHIP_PRESTART_KERNEL", "1") != "0", "start the kernel in the background after listening ($SHIP_PRESTART_KERNEL)")
		showVer   = flag.Bool("version", false, "print the version and exit")
	)
	flag.Parse()
	if *showVer {
		fmt.Println(version)
		return nil
	}
	if token == "" {
		// Fail closed: serving without a token would let anything that
		// reaches the port run code as the sandbox user.
		return fmt.Errorf("%s is missing or empty; the control plane sets it per session", tokenEnv)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	id := runas.Detect(*workspace)
	if err := prepareWorkspace(*workspace, id); err != nil {
		return err
	}
	// #nosec G301 -- 0o711 lets the sandbox user pass through to its own kernel dirs (0o700), not list them
	if err := os.MkdirAll(*stateDir, 0o711); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	srv, err := server.New(server.Config{
		Workspace:    *workspace,
		Token:        token,
		Version:      version,
		Image:        os.Getenv("SHIP_IMAGE"),
		ImageDigest:  os.Getenv("SHIP_IMAGE_DIGEST"),
		GitSHA:       os.Getenv("GIT_SHA"),
		Python:       *python,
		StateDir:     *stateDir,
		Identity:     id,
		KernelOutput: os.Stderr,
		Host:         server.HostFiles{Inventory: *inventory, CgroupDir: *cgroupDir},
		Logger:       logger,
	})
	if err != nil {
		return err
	}
	defer srv.Close()

	// #nosec G102 -- Bay reaches Ship over the container network; every route but /health needs the token
	ln, err := net.Listen("tcp", ":"+*port)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger.Info("ship listening", "addr", ln.Addr().String(), "version", version, "workspace", *workspace, "user", id.Name)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if *prestart {
		// Hide the kernel's ~1 s start-up; /health does not wait for it.
		go func() {
			if err := srv.Kernel().Start(ctx); err != nil && ctx.Err() == nil {
				logger.Warn("kernel pre-start failed; the first exec retries", "err", err)
			}
		}()
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(shutdownCtx)
	return nil
}

// prepareWorkspace makes sure the workspace exists and, when running as
// root, belongs to the sandbox user: the top level always, and below it
// only entries not already owned by the user (a full recursive chown on
// every start is slow for big workspaces). Errors below the top level are
// ignored, as volumes may hold odd entries.
func prepareWorkspace(dir string, id runas.Identity) error {
	// #nosec G301 -- the sandbox user's workspace; root is the only other user in the container
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create workspace: %w", err)
	}
	if !id.Switch {
		return nil
	}
	if err := os.Chmod(dir, 0o755); err != nil { // #nosec G302 -- a directory (G302 expects files); as for MkdirAll above
		return fmt.Errorf("chmod workspace: %w", err)
	}
	if err := id.Chown(dir); err != nil {
		return err
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != id.UID || int(st.Gid) != id.GID) {
			_ = id.Chown(p)
		}
		return nil
	})
	return nil
}
