package kubernetes

import (
	"context"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/bayhq/bay/core"
)

// A sandbox pod's network is sealed by a NetworkPolicy of its own, named
// after the pod and selecting it by its session label. It is created
// before the pod, so the pod never runs without one, and StartContainer
// refuses a pod whose policy is gone. The policy says, as the Docker
// adapter's guard does (adapters/docker/guard.go):
//
//   - ingress: only Bay's pods (driver.k8s.bay_pod_labels, any namespace)
//     and the nodes reach the runtime's port; other sandboxes reach
//     nothing;
//   - egress, when the profile allows Bay's API: TCP to Bay's port on
//     Bay's pods and on the nodes;
//   - egress, open: DNS (port 53) anywhere, so that name resolution works
//     whatever resolver the node gives (dnsPolicy Default); then every
//     address but the blocked ranges, the nodes' addresses and the pod
//     ranges (other sandboxes);
//   - egress, allowlist: the listed addresses (and ports), less the same
//     ranges;
//   - egress, none: nothing.
//
// NetworkPolicy only allows: "blocked" is the except list of each allowed
// block, and an allowlist entry inside a blocked range is dropped. Whether
// and when the policy holds is up to the cluster's network plugin (the
// test cluster enforces it with kube-router): a cluster without one
// stores the policy and seals nothing.

// alwaysBlocked are ranges no sandbox reaches whatever the configuration
// (as adapters/docker/guard.go): "this network", multicast, broadcast.
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

// policyInput is everything a sandbox's policy depends on.
type policyInput struct {
	Mode  core.NetworkMode
	Allow []allowRule
	// Blocked are the ranges no allowed block includes: the configured
	// ones, alwaysBlocked, the nodes' addresses and the pod ranges.
	Blocked []netip.Prefix
	// Nodes are the nodes' addresses, which reach the runtime (probes, Bay
	// on a node) and, with BayAPIPort, are reached on that port.
	Nodes []netip.Prefix
	// IPv6 allows IPv6 destinations too (a cluster with IPv6 nodes).
	IPv6         bool
	BayPodLabels map[string]string
	BayAPIPort   int
	// Ports are the runtime's ports.
	Ports []int
}

// policyFor gathers the policy input of a sandbox of profile p. It also
// returns the host aliases that stand in for DNS in allowlist mode.
func (r *Runtime) policyFor(ctx context.Context, p *core.Profile, ports []int) (policyInput, []corev1.HostAlias) {
	nodes := r.nodeFacts(ctx, false)
	in := policyInput{
		Mode: p.NetworkMode(), Nodes: nodes.addrs, IPv6: nodes.ipv6,
		BayPodLabels: r.opts.BayPodLabels, Ports: ports,
	}
	in.Blocked = append(in.Blocked, r.opts.BlockedHosts...)
	in.Blocked = append(in.Blocked, alwaysBlocked...)
	in.Blocked = append(in.Blocked, nodes.addrs...)
	in.Blocked = append(in.Blocked, nodes.pods...)
	if p.Network.AllowBayAPI {
		in.BayAPIPort = r.opts.BayAPIPort
	}
	var aliases []corev1.HostAlias
	if in.Mode == core.NetworkAllowlist {
		for _, rule := range p.Network.ResolveAllow(ctx, r.log, p.ID) {
			in.Allow = append(in.Allow, allowRule{Prefix: rule.Prefix, Port: rule.Port})
			if rule.Host != "" {
				aliases = append(aliases, corev1.HostAlias{IP: rule.Prefix.Addr().String(), Hostnames: []string{rule.Host}})
			}
		}
	}
	return in, aliases
}

// networkPolicy renders the policy of the pod whose session label is
// sessionLabel (sanitised).
func networkPolicy(in policyInput, meta metav1.ObjectMeta, sessionLabel string) *networkingv1.NetworkPolicy {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	port := func(proto corev1.Protocol, n int) networkingv1.NetworkPolicyPort {
		p := intstr.FromInt32(int32(n)) // #nosec G115 -- ports are 1..65535
		return networkingv1.NetworkPolicyPort{Protocol: &proto, Port: &p}
	}
	var bayPods []networkingv1.NetworkPolicyPeer
	if len(in.BayPodLabels) > 0 {
		// An empty selector would be every pod of every namespace.
		bayPods = append(bayPods, networkingv1.NetworkPolicyPeer{
			PodSelector:       &metav1.LabelSelector{MatchLabels: in.BayPodLabels},
			NamespaceSelector: &metav1.LabelSelector{},
		})
	}
	var nodes []networkingv1.NetworkPolicyPeer
	for _, a := range in.Nodes {
		nodes = append(nodes, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: a.String()}})
	}

	var ingress []networkingv1.NetworkPolicyIngressRule
	if from := slices.Concat(bayPods, nodes); len(from) > 0 {
		rule := networkingv1.NetworkPolicyIngressRule{From: from}
		for _, p := range in.Ports {
			rule.Ports = append(rule.Ports, port(tcp, p))
		}
		ingress = append(ingress, rule)
	}

	var egress []networkingv1.NetworkPolicyEgressRule
	if to := slices.Concat(bayPods, nodes); in.BayAPIPort > 0 && len(to) > 0 {
		egress = append(egress, networkingv1.NetworkPolicyEgressRule{
			To: to, Ports: []networkingv1.NetworkPolicyPort{port(tcp, in.BayAPIPort)},
		})
	}
	blocked4, blocked6 := split(in.Blocked)
	switch in.Mode {
	case core.NetworkOpen:
		egress = append(egress, networkingv1.NetworkPolicyEgressRule{
			Ports: []networkingv1.NetworkPolicyPort{port(udp, 53), port(tcp, 53)},
		})
		var to []networkingv1.NetworkPolicyPeer
		if peer, ok := ipBlock(netip.MustParsePrefix("0.0.0.0/0"), blocked4); ok {
			to = append(to, peer)
		}
		if peer, ok := ipBlock(netip.MustParsePrefix("::/0"), blocked6); ok && in.IPv6 {
			to = append(to, peer)
		}
		if len(to) > 0 {
			egress = append(egress, networkingv1.NetworkPolicyEgressRule{To: to})
		}
	case core.NetworkAllowlist:
		for _, a := range in.Allow {
			p := a.Prefix.Masked()
			if p.Addr().Is6() && !in.IPv6 {
				continue
			}
			blocked := blocked4
			if p.Addr().Is6() {
				blocked = blocked6
			}
			peer, ok := ipBlock(p, blocked)
			if !ok {
				continue
			}
			rule := networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{peer}}
			if a.Port > 0 {
				rule.Ports = []networkingv1.NetworkPolicyPort{port(tcp, a.Port), port(udp, a.Port)}
			}
			egress = append(egress, rule)
		}
	}
	return &networkingv1.NetworkPolicy{
		ObjectMeta: meta,
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{core.LabelSessionID: sessionLabel}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     ingress,
			Egress:      egress,
		},
	}
}

// ipBlock is cidr less the blocked ranges strictly inside it (the API
// refuses any other exception); false when a blocked range holds all of
// cidr.
func ipBlock(cidr netip.Prefix, blocked []netip.Prefix) (networkingv1.NetworkPolicyPeer, bool) {
	b := &networkingv1.IPBlock{CIDR: cidr.String()}
	for _, x := range blocked {
		switch {
		case x.Bits() <= cidr.Bits() && x.Contains(cidr.Addr()):
			return networkingv1.NetworkPolicyPeer{}, false
		case cidr.Contains(x.Addr()):
			b.Except = append(b.Except, x.String())
		}
	}
	return networkingv1.NetworkPolicyPeer{IPBlock: b}, true
}

// split separates IPv4 from IPv6 prefixes, masked, and drops those inside
// another of the same family.
func split(ps []netip.Prefix) (v4, v6 []netip.Prefix) {
	for _, p := range ps {
		if !p.IsValid() {
			continue
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		p = p.Masked()
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	return outermost(v4), outermost(v6)
}

// outermost keeps the prefixes no other prefix of the list contains, in
// address order.
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
