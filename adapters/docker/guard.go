package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/bayhq/bay/core"
)

// A sandbox's network is sealed by netfilter rules in the sandbox's own
// network namespace, installed by a guard: a short-lived container that
// joins that namespace (network mode container:<id>) with CAP_NET_ADMIN,
// runs nft once and exits. The sandbox container itself never holds
// CAP_NET_ADMIN, so nothing inside it, root included, can change or remove
// the rules. The guard is created next to its sandbox container and kept
// (exited) for the sandbox container's life, because every start of a
// container gets a fresh namespace and needs the rules again.
//
// The rules filter what leaves the namespace (the output hook):
//
//   - replies on connections opened to the sandbox (Bay calling its
//     runtime) pass, as does traffic on the sandbox's own loopback;
//   - the subnets of every Docker network (other sandboxes, other
//     containers) and multicast and broadcast are rejected, always;
//   - when the profile allows Bay's API: TCP to Bay's port on the host;
//   - open: DNS (port 53) to any other address, so that name resolution
//     works whatever resolver the host uses (cloud resolvers often sit in
//     link-local or private ranges);
//   - the host's own addresses and the blocked ranges are rejected, always;
//   - open: everything else passes; allowlist: only the listed addresses
//     (and ports) pass; none: nothing passes.
//
// Rejected connections fail at once (ICMP administratively prohibited),
// so a program inside learns it is blocked instead of hanging.

// guardPrefix names the guard containers; it is not bay-session-, so
// orphan-container GC never considers them.
const guardPrefix = "bay-guard-"

// LabelGuard marks guard containers; its value is the id of the sandbox
// container whose network the guard seals.
const LabelGuard = "bay.guard_for"

// errNoGuard is in the chain of runGuard's error for a container without a
// guard: one that joined another's namespace, or one made by an older Bay.
var errNoGuard = errors.New("no network guard")

// guardTable is the nftables table the guard owns in the sandbox's
// namespace.
const guardTable = "bay_guard"

// dockerDNS is the address of Docker's embedded name server on user-defined
// networks; it answers on the sandbox's loopback.
var dockerDNS = netip.MustParseAddr("127.0.0.11")

// alwaysBlocked are ranges no sandbox reaches whatever the configuration:
// broadcast and multicast would reach neighbours on the bridge, and
// "this network" addresses are never a legitimate destination.
var alwaysBlocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("255.255.255.255/32"),
	netip.MustParsePrefix("ff00::/8"),
}

// allowRule is an allowlist entry with its host name resolved.
type allowRule struct {
	Prefix netip.Prefix
	Port   int
}

// guardPolicy is everything a guard's rules depend on.
type guardPolicy struct {
	Mode core.NetworkMode
	// Allow is the resolved allowlist (allowlist mode only).
	Allow []allowRule
	// Neighbours are the subnets of every Docker network.
	Neighbours []netip.Prefix
	// Host are the runtime host's own addresses.
	Host []netip.Prefix
	// Blocked are the configured blocked ranges.
	Blocked []netip.Prefix
	// BayAPIPort, when not 0, lets TCP reach that port on the host's
	// addresses (a profile with allow_bay_api).
	BayAPIPort int
}

// ruleset renders the policy as one nft script. It starts by dropping the
// guard's table, so running it again replaces the rules.
func ruleset(p guardPolicy) string {
	var b strings.Builder
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	t := "inet " + guardTable
	reject := "reject with icmpx type admin-prohibited"
	line("add table %s", t)
	line("delete table %s", t)
	line("add table %s", t)
	sets := []struct {
		name     string
		prefixes []netip.Prefix
	}{
		{"neighbours", p.Neighbours},
		{"host", p.Host},
		{"blocked", append(slices.Clone(p.Blocked), alwaysBlocked...)},
	}
	for _, s := range sets {
		v4, v6 := split(s.prefixes)
		line("add set %s %s4 { type ipv4_addr; flags interval; }", t, s.name)
		line("add set %s %s6 { type ipv6_addr; flags interval; }", t, s.name)
		if len(v4) > 0 {
			line("add element %s %s4 { %s }", t, s.name, elements(v4))
		}
		if len(v6) > 0 {
			line("add element %s %s6 { %s }", t, s.name, elements(v6))
		}
	}
	rule := func(format string, args ...any) {
		b.WriteString("add rule " + t + " output ")
		line(format, args...)
	}
	line("add chain %s output { type filter hook output priority 0; policy drop; }", t)
	rule("ct state established,related accept")
	if p.Mode != core.NetworkOpen {
		rule("oifname \"lo\" ip daddr %s %s", dockerDNS, reject)
	}
	rule("oifname \"lo\" accept")
	if p.BayAPIPort > 0 {
		rule("ip daddr @host4 tcp dport %d accept", p.BayAPIPort)
		rule("ip6 daddr @host6 tcp dport %d accept", p.BayAPIPort)
	}
	rule("ip daddr @neighbours4 %s", reject)
	rule("ip6 daddr @neighbours6 %s", reject)
	if p.Mode == core.NetworkOpen {
		rule("meta l4proto { tcp, udp } th dport 53 accept")
	}
	for _, s := range []string{"host", "blocked"} {
		rule("ip daddr @%s4 %s", s, reject)
		rule("ip6 daddr @%s6 %s", s, reject)
	}
	switch p.Mode {
	case core.NetworkOpen:
		rule("accept")
	case core.NetworkAllowlist:
		for _, a := range p.Allow {
			family := "ip"
			if a.Prefix.Addr().Is6() {
				family = "ip6"
			}
			if a.Port > 0 {
				rule("%s daddr %s meta l4proto { tcp, udp } th dport %d accept", family, a.Prefix, a.Port)
			} else {
				rule("%s daddr %s accept", family, a.Prefix)
			}
		}
	}
	rule("%s", reject)
	return b.String()
}

// split separates IPv4 from IPv6 prefixes and drops those inside another
// of the same family: nft refuses overlapping elements in an interval set.
func split(ps []netip.Prefix) (v4, v6 []netip.Prefix) {
	for _, p := range ps {
		if !p.IsValid() {
			continue
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p)).Masked()
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	return outermost(v4), outermost(v6)
}

// unmapBits is what an IPv4-mapped IPv6 prefix loses when unmapped.
func unmapBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return 96
	}
	return 0
}

// outermost keeps the prefixes no other prefix of the list contains, in
// address order. CIDR blocks either nest or do not overlap at all.
func outermost(ps []netip.Prefix) []netip.Prefix {
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	var out []netip.Prefix
	for _, p := range ps {
		if n := len(out); n > 0 && out[n-1].Bits() <= p.Bits() && out[n-1].Contains(p.Addr()) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func elements(ps []netip.Prefix) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		if p.IsSingleIP() {
			parts[i] = p.Addr().String()
		} else {
			parts[i] = p.String()
		}
	}
	return strings.Join(parts, ", ")
}

// guardName is the name of the guard of the sandbox container id.
func guardName(containerID string) string { return guardPrefix + containerID }

// policyFor gathers what the rules of one sandbox container depend on:
// the profile's policy with its host names resolved, the Docker networks'
// subnets and the host's addresses. It also returns the /etc/hosts entries
// that stand in for DNS in allowlist mode.
func (r *Runtime) policyFor(ctx context.Context, p *core.Profile) (guardPolicy, []string, error) {
	pol := guardPolicy{Mode: p.NetworkMode(), Blocked: r.opts.BlockedHosts}
	if p.Network.AllowBayAPI {
		pol.BayAPIPort = r.opts.BayAPIPort
	}
	nets, err := r.api().NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return guardPolicy{}, nil, translate(ctx, err, "list docker networks")
	}
	for _, n := range nets {
		for _, c := range n.IPAM.Config {
			if sub, err := netip.ParsePrefix(c.Subnet); err == nil {
				pol.Neighbours = append(pol.Neighbours, sub.Masked())
			}
			// The gateway is the host's address on that network.
			if gw, err := netip.ParseAddr(c.Gateway); err == nil {
				pol.Host = append(pol.Host, netip.PrefixFrom(gw, gw.BitLen()))
			}
		}
	}
	pol.Host = append(pol.Host, r.hostAddrs()...)

	var hosts []string
	if pol.Mode == core.NetworkAllowlist {
		for _, rule := range p.Network.ResolveAllow(ctx, r.log, p.ID) {
			pol.Allow = append(pol.Allow, allowRule{Prefix: rule.Prefix, Port: rule.Port})
			if rule.Host != "" {
				hosts = append(hosts, rule.Host+":"+rule.Prefix.Addr().String())
			}
		}
	}
	return pol, hosts, nil
}

// hostAddrs returns the runtime host's own addresses. They are this
// process's interface addresses when the Docker daemon is local (a unix
// socket); for a remote daemon, or Bay in a container, only the Docker
// networks' gateways are known, and the operator lists the host's other
// addresses in security.blocked_hosts.
func (r *Runtime) hostAddrs() []netip.Prefix {
	if !strings.HasPrefix(r.host, "unix://") {
		return nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		r.log.Warn("list the host's addresses", "err", err)
		return nil
	}
	var out []netip.Prefix
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok || ip.IsLoopback() {
			continue
		}
		ip = ip.Unmap()
		out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return out
}

// createGuard creates the guard of the sandbox container id, replacing a
// guard left by an earlier attempt (its rules may be stale).
func (r *Runtime) createGuard(ctx context.Context, id string, spec core.ContainerSpec, pol guardPolicy) error {
	name := guardName(id)
	if err := r.removeGuard(ctx, id); err != nil {
		return err
	}
	instance := spec.InstanceID
	if instance == "" {
		instance = r.opts.InstanceID
	}
	cfg := &container.Config{
		Image:      r.opts.GuardImage,
		User:       "0:0",
		Entrypoint: []string{"nft"},
		Cmd:        []string{ruleset(pol)},
		Labels:     r.labels(map[string]string{LabelGuard: id, core.LabelInstanceID: instance}),
	}
	hostCfg := &container.HostConfig{
		NetworkMode: container.NetworkMode("container:" + id),
		CapDrop:     []string{"ALL"},
		CapAdd:      []string{"NET_ADMIN"},
		SecurityOpt: []string{"no-new-privileges:true"},
	}
	_, err := r.api().ContainerCreate(ctx, cfg, hostCfg, &network.NetworkingConfig{}, nil, name)
	switch {
	case cerrdefs.IsNotFound(err):
		return r.missingImage(ctx, r.opts.GuardImage, err, name)
	case cerrdefs.IsConflict(err):
		// A concurrent create of the same session adopted the same
		// container and made its guard a moment ago, from the same policy.
		return nil
	}
	return translate(ctx, err, "create network guard "+name)
}

// runGuard runs the guard of the started sandbox container id and waits
// for it: the sandbox's network is sealed when it returns nil.
func (r *Runtime) runGuard(ctx context.Context, id string) error {
	began := time.Now()
	name := guardName(id)
	if err := r.api().ContainerStart(ctx, name, container.StartOptions{}); err != nil {
		if cerrdefs.IsNotFound(err) {
			return &core.Error{Code: core.CodeInternal, Err: errNoGuard,
				Message: fmt.Sprintf("container %s has no network guard (created by an older Bay?); it cannot be started safely", id)}
		}
		return translate(ctx, err, "start network guard "+name)
	}
	if err := r.waitExit(ctx, name, "network guard of container "+id); err != nil {
		return err
	}
	r.log.DebugContext(ctx, "network sealed", "container_id", id, "duration_ms", time.Since(began).Milliseconds())
	return nil
}

// waitExit waits for the started one-shot container name (a guard, a disk
// helper) to exit and turns a failure into internal_error naming what,
// with the end of its output.
func (r *Runtime) waitExit(ctx context.Context, name, what string) error {
	// not-running after the start: it answers at once if the container has
	// exited already, and waits otherwise.
	waitC, errC := r.api().ContainerWait(ctx, name, container.WaitConditionNotRunning)
	select {
	case w := <-waitC:
		if w.Error != nil && w.Error.Message != "" {
			return core.Errorf(core.CodeInternal, "%s: %s", what, w.Error.Message)
		}
		if w.StatusCode != 0 {
			return core.Errorf(core.CodeInternal, "%s failed (exit %d): %s", what, w.StatusCode, r.guardOutput(ctx, name))
		}
		return nil
	case err := <-errC:
		return translate(ctx, err, "wait for "+what)
	}
}

// guardOutput returns the end of what a failed one-shot container printed.
func (r *Runtime) guardOutput(ctx context.Context, name string) string {
	rc, err := r.api().ContainerLogs(ctx, name, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: "20"})
	if err != nil {
		return "(no output: " + err.Error() + ")"
	}
	defer rc.Close()
	var out bytes.Buffer
	_, _ = stdcopy.StdCopy(&out, &out, io.LimitReader(rc, 64<<10))
	return strings.TrimSpace(out.String())
}

// removeGuard removes the guard of the sandbox container id, if any.
func (r *Runtime) removeGuard(ctx context.Context, id string) error {
	err := r.api().ContainerRemove(ctx, guardName(id), container.RemoveOptions{Force: true})
	if err == nil || cerrdefs.IsNotFound(err) || cerrdefs.IsConflict(err) {
		return nil // a conflict is a removal already in progress
	}
	return translate(ctx, err, "remove network guard of "+id)
}
