package core

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// NetworkMode says what a profile's sandboxes may reach on the network
// (config.md profiles[].network).
type NetworkMode string

// Network modes. Whatever the mode, a sandbox never reaches another
// sandbox, the runtime host's own addresses or the blocked ranges
// (security.blocked_hosts): the runtime enforces those below the mode.
const (
	// NetworkNone reaches nothing: no connection leaves the sandbox, not
	// even to a name server. Bay still reaches the runtime.
	NetworkNone NetworkMode = "none"
	// NetworkOpen reaches every address outside the blocked ranges.
	NetworkOpen NetworkMode = "open"
	// NetworkAllowlist reaches only the listed hosts, addresses and ports.
	NetworkAllowlist NetworkMode = "allowlist"
)

// DefaultNetworkMode is the mode of a profile that sets none.
const DefaultNetworkMode = NetworkOpen

// NetworkPolicy is a profile's egress policy.
type NetworkPolicy struct {
	Mode NetworkMode
	// Allow lists what an allowlist sandbox may reach; empty in the other
	// modes.
	Allow []NetworkRule
	// AllowBayAPI lets the sandbox open TCP connections to Bay's own API
	// port on the runtime host, which is blocked otherwise.
	AllowBayAPI bool
}

// NetworkRule is one allowlist entry: a host name or an address prefix,
// with an optional port.
type NetworkRule struct {
	// Host is a DNS name, resolved by Bay when a container is created; the
	// sandbox gets the answers in /etc/hosts, as it has no name server.
	// Empty when Prefix is set.
	Host string
	// Prefix is an address (a /32 or /128) or a CIDR range.
	Prefix netip.Prefix
	// Port limits the rule to one TCP or UDP port; 0 means every port.
	Port int
}

// ResolveAllow returns the allowlist of a profile's policy with every
// host name resolved now: one rule per address, with Prefix that address
// and Host the name it came from; address rules are returned as they are.
// A name that does not resolve within 5 s is logged and left out: one
// stale name must not make every sandbox of the profile unusable, and the
// host stays unreachable, which is safe.
func (n NetworkPolicy) ResolveAllow(ctx context.Context, log *slog.Logger, profileID string) []NetworkRule {
	var out []NetworkRule
	for _, rule := range n.Allow {
		if rule.Host == "" {
			out = append(out, rule)
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		addrs, err := net.DefaultResolver.LookupNetIP(lctx, "ip", rule.Host)
		cancel()
		if err != nil {
			log.WarnContext(ctx, "allowlisted host does not resolve; it stays unreachable",
				"profile_id", profileID, "host", rule.Host, "err", err)
			continue
		}
		for _, a := range addrs {
			a = a.Unmap()
			out = append(out, NetworkRule{Host: rule.Host, Prefix: netip.PrefixFrom(a, a.BitLen()), Port: rule.Port})
		}
	}
	return out
}

// String gives the rule in the form ParseNetworkRule reads.
func (r NetworkRule) String() string {
	target := r.Host
	if target == "" {
		target = r.Prefix.String()
		if r.Prefix.IsSingleIP() {
			target = r.Prefix.Addr().String()
		}
		if r.Port != 0 && r.Prefix.Addr().Is6() {
			target = "[" + target + "]"
		}
	}
	if r.Port != 0 {
		return target + ":" + strconv.Itoa(r.Port)
	}
	return target
}

// ParseNetworkRule reads an allowlist entry: "example.com", "example.com:443",
// "203.0.113.7", "203.0.113.0/24", "203.0.113.0/24:443", "2001:db8::1",
// "[2001:db8::1]:443". Returns validation_error for anything else.
func ParseNetworkRule(s string) (NetworkRule, error) {
	bad := func(why string) (NetworkRule, error) {
		return NetworkRule{}, Invalid("network allow entry %q: %s", s, why)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return bad("empty")
	}
	target, port := s, 0
	// A bare IPv6 address or prefix has colons but no port.
	if _, err := netip.ParseAddr(s); err == nil {
		target = s
	} else if _, err := netip.ParsePrefix(s); err == nil {
		target = s
	} else if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return bad("unclosed [")
		}
		target = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return bad("want [address]:port")
			}
			p, err := parsePort(rest[1:])
			if err != nil {
				return bad(err.Error())
			}
			port = p
		}
	} else if i := strings.LastIndex(s, ":"); i >= 0 {
		p, err := parsePort(s[i+1:])
		if err != nil {
			return bad(err.Error())
		}
		target, port = s[:i], p
	}
	if a, err := netip.ParseAddr(target); err == nil {
		if a.Zone() != "" {
			return bad("zoned addresses are not allowed")
		}
		a = a.Unmap()
		return NetworkRule{Prefix: netip.PrefixFrom(a, a.BitLen()), Port: port}, nil
	}
	if strings.Contains(target, "/") {
		p, err := netip.ParsePrefix(target)
		if err != nil {
			return bad("not a CIDR range")
		}
		return NetworkRule{Prefix: p.Masked(), Port: port}, nil
	}
	if !validHostname(target) {
		return bad("not a host name, address or CIDR range")
	}
	return NetworkRule{Host: strings.ToLower(strings.TrimSuffix(target, ".")), Port: port}, nil
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %q is not between 1 and 65535", s)
	}
	return n, nil
}

// validHostname accepts DNS names of letters, digits, hyphens and
// underscores in dot-separated labels of 1 to 63 characters.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			default:
				return false
			}
		}
	}
	return true
}

// ParseBlockedHost reads an entry of security.blocked_hosts: a CIDR range or
// a single address. Returns validation_error for anything else (host names
// are refused: what they resolve to changes).
func ParseBlockedHost(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, Invalid("blocked host %q: want an address or a CIDR range", s)
}
