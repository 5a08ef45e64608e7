package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bayhq/bay/ship/kernel"
	"github.com/bayhq/bay/ship/wire"
)

// operation is one operation of a capability and the route serving it.
type operation struct {
	name, path string
}

// capabilitySpec describes one capability. capabilityTable is the only
// list of capabilities and operations: /meta and /capabilities are both
// built from it, so their keys and operations cannot differ.
type capabilitySpec struct {
	key        string
	operations []operation
	// /meta extras.
	pathMode, engine, protocol string
}

var capabilityTable = []capabilitySpec{
	{key: wire.CapabilityFilesystem, pathMode: "relative_to_mount", operations: []operation{
		{"create", "/fs/create_file"}, {"read", wire.PathReadFile}, {"write", wire.PathWriteFile},
		{"edit", "/fs/edit_file"}, {"delete", wire.PathDeleteFile}, {"list", wire.PathListDir},
		{"upload", wire.PathUpload}, {"download", wire.PathDownload},
	}},
	{key: wire.CapabilityShell, operations: []operation{
		{wire.OpExec, wire.PathShellExec}, {wire.OpExecStream, wire.PathShellExecStream},
		{wire.OpCancel, wire.PathExecCancel}, {"processes", "/shell/processes"},
	}},
	{key: wire.CapabilityPython, engine: "ipython", operations: []operation{
		{wire.OpExec, wire.PathPythonExec}, {wire.OpExecStream, wire.PathPythonExecStream},
		{wire.OpCancel, wire.PathExecCancel},
	}},
	{key: wire.CapabilityTerminal, protocol: "websocket", operations: []operation{{"ws", "/term/ws"}}},
}

// names returns the operation names of c, in table order.
func (c capabilitySpec) names() []string {
	out := make([]string, len(c.operations))
	for i, op := range c.operations {
		out[i] = op.name
	}
	return out
}

// encodeJSON renders v without HTML escaping, as the answers are sent.
func encodeJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return buf.Bytes()
}

// buildMeta renders /meta once; it is constant for the server's life.
func (s *Server) buildMeta() []byte {
	caps := make(map[string]wire.Capability, len(capabilityTable))
	for _, c := range capabilityTable {
		endpoints := make(map[string]string, len(c.operations))
		for _, op := range c.operations {
			endpoints[op.name] = op.path
		}
		caps[c.key] = wire.Capability{
			Operations: c.names(), PathMode: c.pathMode, Engine: c.engine, Protocol: c.protocol, Endpoints: endpoints,
		}
	}
	return encodeJSON(wire.Meta{
		Runtime: wire.MetaRuntime{
			Name:       "ship",
			Version:    s.cfg.Version,
			APIVersion: "v1",
			// Tells Bay this runtime enforces the bearer token; Bay refuses
			// runtimes whose /meta lacks it (spec/browser.md §6).
			Auth: wire.AuthBearer,
			Build: wire.MetaBuild{
				Image:       s.cfg.Image,
				ImageDigest: nullable(s.cfg.ImageDigest),
				GitSHA:      nullable(s.cfg.GitSHA),
			},
		},
		Workspace:    wire.MetaWorkspace{MountPath: s.root.Dir},
		Capabilities: caps,
	})
}

func (s *Server) handleMeta(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.meta)
}

func (s *Server) handleCapabilities(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.capabilities)
}

// DefaultInventoryPath is where images/build.sh writes the image's
// inventory.
const DefaultInventoryPath = "/usr/share/ship/inventory.json"

// HostFiles names the files GET /capabilities is built from, read once
// when the server starts. Empty fields take the defaults; tests point them
// into a temporary directory.
type HostFiles struct {
	// Inventory is the image's inventory (DefaultInventoryPath); when it
	// is missing, versions, packages and tools are left out.
	Inventory string
	// CgroupDir holds the cgroup v2 files memory.max, cpu.max and
	// pids.max (/sys/fs/cgroup).
	CgroupDir string
	// ProcStatus is read for NoNewPrivs (/proc/self/status).
	ProcStatus string
	// OSRelease gives the os field (/etc/os-release).
	OSRelease string
	// Sudo is the sudo binary (/usr/bin/sudo).
	Sudo string
}

func (h HostFiles) withDefaults() HostFiles {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&h.Inventory, DefaultInventoryPath)
	def(&h.CgroupDir, "/sys/fs/cgroup")
	def(&h.ProcStatus, "/proc/self/status")
	def(&h.OSRelease, "/etc/os-release")
	def(&h.Sudo, "/usr/bin/sudo")
	return h
}

// inventory is the content of the inventory file images/build.sh writes
// from dpkg-query: upstream versions, without epoch or Debian revision.
type inventory struct {
	Python struct {
		Version   string `json:"version"`
		IPyKernel string `json:"ipykernel"`
	} `json:"python"`
	// Packages are the python3-* packages, by name without the prefix.
	Packages map[string]string `json:"packages"`
	// Tools are command-line tools (git, curl, node…).
	Tools map[string]string `json:"tools"`
}

// readInventory returns the inventory at path, or the zero inventory
// when it is missing or unreadable.
func readInventory(path string) inventory {
	var inv inventory
	// #nosec G304 -- path is the image's inventory file (-inventory or $SHIP_INVENTORY), not request input
	if raw, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(raw, &inv)
	}
	return inv
}

// buildCapabilities renders GET /capabilities once: constant for the
// container's life, and it never touches the kernel.
func (s *Server) buildCapabilities() []byte {
	files := s.cfg.Host.withDefaults()
	inv := readInventory(files.Inventory)
	caps := make(map[string]wire.RuntimeCapability, len(capabilityTable))
	for _, c := range capabilityTable {
		rc := wire.RuntimeCapability{Operations: c.names()}
		switch c.key {
		case wire.CapabilityPython:
			rc.Engine = "ipykernel"
			rc.Version = inv.Python.Version
			rc.EngineVersion = inv.Python.IPyKernel
			rc.DisplayMIMETypes = kernel.DisplayMIMETypes()
			rc.Packages = inv.Packages
		case wire.CapabilityShell:
			rc.Shell = "/bin/bash"
			rc.Tools = inv.Tools
		case wire.CapabilityTerminal:
			rc.Protocol = c.protocol
			rc.Resize = true
			rc.Term = "xterm-256color"
		}
		caps[c.key] = rc
	}
	id := s.cfg.Identity
	return encodeJSON(wire.RuntimeInfo{
		APIVersion: "v1",
		Runtime: wire.RuntimeInfoRuntime{
			Name: "ship", Version: s.cfg.Version, Image: s.cfg.Image, ImageDigest: nullable(s.cfg.ImageDigest),
		},
		OS:           readOSRelease(files.OSRelease),
		User:         wire.RuntimeUser{Name: id.Name, UID: id.UID, Home: id.Home, Sudo: canSudo(files)},
		Workspace:    wire.MetaWorkspace{MountPath: s.root.Dir},
		Limits:       readLimits(files.CgroupDir),
		Capabilities: caps,
	})
}

// readOSRelease returns ID and VERSION_ID of an os-release file, or nil.
func readOSRelease(path string) *wire.RuntimeOS {
	f, err := os.Open(path) // #nosec G304 -- a fixed host path (tests: a temp file)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out wire.RuntimeOS
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else {
			v = strings.Trim(v, `'"`)
		}
		switch k {
		case "ID":
			out.ID = v
		case "VERSION_ID":
			out.VersionID = v
		}
	}
	if out.ID == "" {
		return nil
	}
	return &out
}

// canSudo reports whether the sandbox user may use sudo: only when the
// process runs without no-new-privileges (set by Bay unless the profile
// allows sudo) and sudo is installed.
func canSudo(files HostFiles) bool {
	if _, err := os.Stat(files.Sudo); err != nil {
		return false
	}
	raw, err := os.ReadFile(files.ProcStatus)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "NoNewPrivs:"); ok {
			return strings.TrimSpace(v) == "0"
		}
	}
	return false
}

// readLimits reads the container's limits from the cgroup v2 files in
// dir (memory.max, cpu.max, pids.max), falling back to the cgroup v1
// hierarchy mounted there (memory/memory.limit_in_bytes,
// cpu/cpu.cfs_quota_us and cpu.cfs_period_us, pids/pids.max) on hosts that
// still run v1. "max", -1, a missing or an unreadable file is null.
func readLimits(dir string) wire.RuntimeLimits {
	at := func(name string) string { return filepath.Join(dir, name) }
	var l wire.RuntimeLimits
	if l.MemoryBytes = readCgroupInt(at("memory.max")); l.MemoryBytes == nil && !exists(at("memory.max")) {
		// v1 reports "no limit" as a huge page-aligned number.
		if n := readCgroupInt(at("memory/memory.limit_in_bytes")); n != nil && *n < 1<<60 {
			l.MemoryBytes = n
		}
	}
	if l.PIDs = readCgroupInt(at("pids.max")); l.PIDs == nil && !exists(at("pids.max")) {
		l.PIDs = readCgroupInt(at("pids/pids.max"))
	}
	quota, period := readCPUMax(at("cpu.max"))
	if !exists(at("cpu.max")) {
		quota, period = readCgroupInt(at("cpu/cpu.cfs_quota_us")), readCgroupInt(at("cpu/cpu.cfs_period_us"))
	}
	if quota != nil && period != nil && *quota > 0 && *period > 0 {
		cpus := float64(*quota) / float64(*period)
		l.CPUs = &cpus
	}
	return l
}

// readCPUMax reads cpu.max: "<quota> <period>" in microseconds, the quota
// "max" when there is none.
func readCPUMax(path string) (quota, period *int64) {
	raw, err := os.ReadFile(path) // #nosec G304 -- a file of the cgroup directory
	if err != nil {
		return nil, nil
	}
	f := strings.Fields(string(raw))
	if len(f) != 2 {
		return nil, nil
	}
	return parseInt(f[0]), parseInt(f[1])
}

// readCgroupInt reads a cgroup file holding one integer; "max" or
// anything else is nil.
func readCgroupInt(path string) *int64 {
	raw, err := os.ReadFile(path) // #nosec G304 -- a file of the cgroup directory
	if err != nil {
		return nil
	}
	return parseInt(strings.TrimSpace(string(raw)))
}

func parseInt(s string) *int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil
	}
	return &n
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
