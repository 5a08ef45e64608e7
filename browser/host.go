package browser

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// userNamespacesWork reports whether this process may create a user
// namespace, which Chromium's namespace sandbox needs: it spawns /bin/true
// (or, without one, this binary with -version) with CLONE_NEWUSER. Docker's
// default seccomp profile, an AppArmor restriction or a sysctl makes the
// clone fail with EPERM.
func userNamespacesWork() error {
	bin := "/bin/true"
	args := []string{}
	if _, err := os.Stat(bin); err != nil {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("no /bin/true and no own executable to probe with: %w", err)
		}
		bin, args = self, []string{"-version"}
	}
	cmd := exec.Command(bin, args...) // #nosec G204 -- a fixed binary: /bin/true or browserd itself
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
	cmd.Env = []string{}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("creating a user namespace failed: %w", err)
	}
	return nil
}

// checkWritable makes sure dir exists (creating it) and that this user can
// create a file in it.
func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}

// profileLock is the flock on the persistent profile (browser.md §3.7):
// two sandboxes may mount one external Locker, and two Chromiums must not
// share a profile.
type profileLock struct{ f *os.File }

// lockProfile takes an exclusive, non-blocking flock on path. It returns
// errLocked when another process holds it.
func lockProfile(path string) (*profileLock, error) {
	// #nosec G304 -- the lock file's path is the runtime's own, under the workspace
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, err
	}
	return &profileLock{f: f}, nil
}

var errLocked = errors.New("profile locked by another browser")

func (l *profileLock) release() {
	if l != nil && l.f != nil {
		_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		_ = l.f.Close()
	}
}

// removeSingletons deletes Chromium's Singleton* files from a profile: a
// full Chromium leaves them naming the old host, and the next start then
// refuses the profile. Only called with the profile lock held.
func removeSingletons(profile string) {
	matches, _ := filepath.Glob(filepath.Join(profile, "Singleton*"))
	for _, m := range matches {
		if strings.HasPrefix(filepath.Base(m), "Singleton") {
			_ = os.Remove(m)
		}
	}
}
