package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/client"

	"github.com/bayhq/bay/core"
)

// ConnectMode says how Bay reaches the runtime inside a container
// (lifecycle.md §13.4).
type ConnectMode string

// Connect modes.
const (
	// ConnectContainerNetwork reaches the container by its IP on a Docker
	// network; Bay itself must be on that network.
	ConnectContainerNetwork ConnectMode = "container_network"
	// ConnectHostPort reaches the container through a port published on the
	// host.
	ConnectHostPort ConnectMode = "host_port"
	// ConnectAuto tries the container's IP first, then a published port.
	ConnectAuto ConnectMode = "auto"
)

// DefaultHost is the Docker API address used when Options.Host is empty.
const DefaultHost = "unix:///var/run/docker.sock"

// Options configures a Runtime (config.md §2.3 driver.docker).
type Options struct {
	// Host is the Docker API address: unix:///path, tcp://host:port, or a
	// bare path taken as a unix socket. Empty means DefaultHost.
	Host string
	// ConnectMode defaults to ConnectAuto.
	ConnectMode ConnectMode
	// Network is the Docker network runtime containers join in the
	// container_network and auto modes. A network that does not exist is
	// ignored with a warning. Without one, containers join Bay's own
	// network (SandboxNetwork), which forbids traffic between containers.
	Network string
	// HostAddress is the host address runtime ports are published on, and
	// the one host_port endpoints use; empty means 127.0.0.1. A wildcard
	// (0.0.0.0) publishes on every interface: only an operator who wants
	// the runtime ports reachable from other machines sets it.
	HostAddress string
	// PublishPorts publishes the runtime port on the host in the host_port
	// and auto modes.
	PublishPorts bool
	// HostPort is the fixed host port to publish on; 0 picks a random one.
	// A fixed port allows only one running container at a time.
	HostPort int
	// InstanceID is written to the bay.instance_id label of containers whose
	// spec gives none.
	InstanceID string
	// Labels are added to every container and volume this runtime creates,
	// beneath the bay.* labels (which win on a clash). Tests use them to tag
	// and sweep their objects.
	Labels map[string]string
	// HelperImage is the image of the short-lived, never-started containers
	// that mount a locker for direct file access (any image will do; the
	// default profile's image is the natural choice).
	HelperImage string
	// GuardImage is the image of the guards that seal each sandbox's
	// network; it must hold nft (Ship's images do). Empty means
	// HelperImage.
	GuardImage string
	// BlockedHosts are ranges no sandbox reaches, whatever its profile
	// (security.blocked_hosts).
	BlockedHosts []netip.Prefix
	// BayAPIPort is the port of Bay's own API, which a profile with
	// allow_bay_api may reach on the host's addresses.
	BayAPIPort int
	// Seccomp is the seccomp profile (Docker's JSON, the content, not a
	// path) of containers that create user namespaces: browser containers
	// whose Chromium keeps its own sandbox (browser.md §6). Empty leaves
	// them Docker's default profile, which forbids user namespaces: their
	// runtime then runs Chromium without its sandbox (chromium_sandbox
	// auto) or fails its readiness (require).
	Seccomp string
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
}

// Runtime is core.Runtime on Docker.
type Runtime struct {
	// cli is reached through api(), which settles the API version first.
	cli  *client.Client
	host string // the daemon's address, with its scheme
	opts Options
	log  *slog.Logger

	// netMu guards the one check of whether Options.Network exists.
	netMu      sync.Mutex
	netChecked bool
	netName    string

	// seccomp is the content of Options.SeccompProfile, compacted; "" when
	// there is none. seccompWarn warns once that it is missing.
	seccomp     string
	seccompWarn sync.Once

	// apiMu guards the one negotiation of the API version (api).
	apiMu      sync.Mutex
	negotiated bool
}

// negotiateTimeout bounds the ping that settles the API version.
const negotiateTimeout = 5 * time.Second

// api returns the Docker client, its API version settled by one ping
// first: the daemon may be older than the client (Docker 20.10 speaks API
// 1.41), and negotiation picks the highest version both know. The client's
// own lazy negotiation is off: it writes the version unguarded, a race
// when the first requests run concurrently. Until a ping succeeds, each
// call tries again and requests use the client's own version.
func (r *Runtime) api() *client.Client {
	r.apiMu.Lock()
	defer r.apiMu.Unlock()
	if !r.negotiated {
		ctx, cancel := context.WithTimeout(context.Background(), negotiateTimeout)
		ping, err := r.cli.Ping(ctx)
		cancel()
		if err == nil {
			r.cli.NegotiateAPIVersionPing(ping)
			r.negotiated = true
		}
	}
	return r.cli
}

var _ core.Runtime = (*Runtime)(nil)

// Open returns a Runtime talking to the Docker daemon at opts.Host. It does
// not contact the daemon, so Bay starts even when Docker is down; errors
// surface on use. It fails only on invalid options.
func Open(opts Options) (*Runtime, error) {
	host, err := hostURL(opts.Host)
	if err != nil {
		return nil, err
	}
	switch opts.ConnectMode {
	case "":
		opts.ConnectMode = ConnectAuto
	case ConnectAuto, ConnectHostPort, ConnectContainerNetwork:
	default:
		return nil, core.Invalid("docker connect mode %q: want container_network, host_port or auto", opts.ConnectMode)
	}
	if opts.HostAddress == "" {
		opts.HostAddress = "127.0.0.1"
	}
	if opts.HostPort < 0 || opts.HostPort > 65535 {
		return nil, core.Invalid("docker host port %d out of range", opts.HostPort)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The API version is settled on first use (api).
	cli, err := client.NewClientWithOpts(client.WithHost(host))
	if err != nil {
		return nil, core.Wrap(err, core.CodeValidation, fmt.Sprintf("docker host %q", opts.Host))
	}
	if opts.GuardImage == "" {
		opts.GuardImage = opts.HelperImage
	}
	seccomp, err := compactSeccomp(opts.Seccomp)
	if err != nil {
		return nil, err
	}
	return &Runtime{cli: cli, host: host, opts: opts, log: log.With("component", "docker"), seccomp: seccomp}, nil
}

// compactSeccomp checks that a seccomp profile is a JSON object and
// returns it compacted; "" stays "".
func compactSeccomp(profile string) (string, error) {
	if strings.TrimSpace(profile) == "" {
		return "", nil
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(profile), &obj); err != nil {
		return "", core.Wrap(err, core.CodeValidation, "the seccomp profile is not a JSON object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(profile)); err != nil {
		return "", core.Wrap(err, core.CodeValidation, "the seccomp profile")
	}
	return buf.String(), nil
}

// userNSSeccomp returns the seccomp profile that lets a container create
// user namespaces, or "" (Docker's default profile) with a warning, once,
// when there is none.
func (r *Runtime) userNSSeccomp(ctx context.Context) string {
	if r.seccomp == "" {
		r.seccompWarn.Do(func() {
			r.log.WarnContext(ctx, "no seccomp profile for browser containers: Docker's default forbids user namespaces, so Chromium runs without its sandbox (chromium_sandbox auto) or fails to start (require)")
		})
	}
	return r.seccomp
}

// hostURL turns the configured address into the client's form: a value
// without a scheme is a unix socket path.
func hostURL(host string) (string, error) {
	switch {
	case host == "":
		return DefaultHost, nil
	case strings.HasPrefix(host, "unix://"), strings.HasPrefix(host, "tcp://"):
		return host, nil
	case strings.Contains(host, "://"):
		return "", core.Invalid("docker host %q: want unix://, tcp:// or a socket path", host)
	default:
		return "unix://" + host, nil
	}
}

// Ping checks that the daemon answers.
func (r *Runtime) Ping(ctx context.Context) error {
	ping, err := r.cli.Ping(ctx) // a ping names no API version
	if err != nil {
		return translate(ctx, err, "ping docker")
	}
	r.apiMu.Lock()
	if !r.negotiated {
		r.cli.NegotiateAPIVersionPing(ping)
		r.negotiated = true
	}
	r.apiMu.Unlock()
	return nil
}

// Close releases the client's idle connections.
func (r *Runtime) Close() error { return r.cli.Close() }
