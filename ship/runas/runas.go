package runas

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// Sandbox account defaults, kept identical to the image (see images/ship).
const (
	DefaultUID  = 1000
	DefaultGID  = 1000
	DefaultName = "shipyard"
)

// DefaultPath is the PATH given to every user process.
const DefaultPath = "/usr/local/bin:/usr/bin:/bin"

// Identity is the account user work runs as.
type Identity struct {
	// Switch is true when the server is root and children must drop to UID/GID.
	Switch bool
	UID    int
	GID    int
	Name   string
	// Home is the HOME of user processes: the workspace root.
	Home string
}

// Detect returns the identity for a server whose workspace root is home:
// the sandbox account when running as root, the current user otherwise.
func Detect(home string) Identity {
	if os.Geteuid() == 0 {
		return Identity{Switch: true, UID: DefaultUID, GID: DefaultGID, Name: DefaultName, Home: home}
	}
	return Current(home)
}

// Current returns the identity of the current user, without switching.
func Current(home string) Identity {
	id := Identity{UID: os.Getuid(), GID: os.Getgid(), Home: home}
	if u, err := user.Current(); err == nil {
		id.Name = u.Username
	} else {
		id.Name = strconv.Itoa(id.UID)
	}
	return id
}

// SysProcAttr returns process attributes that start the child in a new
// process group and, when switching, with the identity's credentials.
func (id Identity) SysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if id.Switch {
		// #nosec G115 -- IDs from os.Getuid/Getgid or the 1000 defaults fit
		attr.Credential = &syscall.Credential{Uid: uint32(id.UID), Gid: uint32(id.GID), Groups: []uint32{}}
	}
	return attr
}

// Chown gives path to the identity when switching; a no-op otherwise.
func (id Identity) Chown(path string) error {
	if !id.Switch {
		return nil
	}
	if err := os.Lchown(path, id.UID, id.GID); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	return nil
}

// Env returns the environment of a user process: the server's own
// environment, then HOME, USER, LOGNAME, SHELL, PATH and LANG, then extra.
// Later entries override earlier ones with the same name.
func (id Identity) Env(extra map[string]string) []string {
	m := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := m[k]; !ok {
			order = append(order, k)
		}
		m[k] = v
	}
	for _, kv := range os.Environ() {
		k, v, ok := strings.Cut(kv, "=")
		// BAY_RUNTIME_TOKEN is unset at start already; leaving it out
		// here as well keeps it from user code even if that ever fails.
		if !ok || strings.HasPrefix(k, "SHIP_") || k == "BAY_RUNTIME_TOKEN" {
			continue
		}
		set(k, v)
	}
	set("HOME", id.Home)
	set("USER", id.Name)
	set("LOGNAME", id.Name)
	set("SHELL", "/bin/bash")
	set("PATH", DefaultPath)
	if _, ok := m["LANG"]; !ok {
		set("LANG", "C.UTF-8")
	}
	for k, v := range extra {
		set(k, v)
	}
	env := make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+m[k])
	}
	return env
}
