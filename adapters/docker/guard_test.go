package docker

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
	"github.com/bayhq/bay/internal/testenv"
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func testPolicy(mode core.NetworkMode) guardPolicy {
	return guardPolicy{
		Mode:       mode,
		Neighbours: prefixes("172.17.0.0/16", "172.18.0.0/16"),
		// The gateway lies inside a neighbour subnet and inside a blocked
		// range: sets of different roles may overlap.
		Host:    prefixes("172.17.0.1/32", "192.0.2.2/32", "2001:db8::2/128"),
		Blocked: prefixes("10.0.0.0/8", "10.1.0.0/16", "172.16.0.0/12", "::ffff:192.168.0.0/112", "fc00::/7"),
		Allow: []allowRule{
			{Prefix: netip.MustParsePrefix("198.51.100.7/32"), Port: 443},
			{Prefix: netip.MustParsePrefix("2001:db8:1::/48")},
		},
	}
}

func TestSplit_DropsNestedAndUnmaps(t *testing.T) {
	t.Parallel()
	v4, v6 := split(prefixes("10.1.0.0/16", "10.0.0.0/8", "10.0.0.0/8", "::ffff:192.168.1.0/120", "192.168.0.0/16", "fc00::/7", "fd00::1/128"))
	require.Equal(t, prefixes("10.0.0.0/8", "192.168.0.0/16"), v4)
	require.Equal(t, prefixes("fc00::/7"), v6)
}

func TestRuleset_Modes(t *testing.T) {
	t.Parallel()
	open := ruleset(testPolicy(core.NetworkOpen))
	none := ruleset(testPolicy(core.NetworkNone))
	list := ruleset(testPolicy(core.NetworkAllowlist))
	for _, rs := range []string{open, none, list} {
		require.True(t, strings.HasPrefix(rs, "add table inet bay_guard\ndelete table inet bay_guard\n"), "a rerun replaces the rules")
		require.Contains(t, rs, "policy drop;")
		require.Contains(t, rs, "ct state established,related accept")
		require.Contains(t, rs, "add element inet bay_guard blocked4 { 0.0.0.0/8, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 224.0.0.0/4, 255.255.255.255 }")
		require.Contains(t, rs, "ip daddr @neighbours4 reject")
		require.Contains(t, rs, "ip daddr @host4 reject")
		require.True(t, strings.HasSuffix(rs, "output reject with icmpx type admin-prohibited\n"), "whatever is not accepted is rejected")
		require.NotContains(t, rs, "tcp dport 0", "no Bay API rule unless asked")
	}
	require.Contains(t, open, "th dport 53 accept")
	require.Contains(t, open, "output accept\n")
	for _, rs := range []string{none, list} {
		require.NotContains(t, rs, "th dport 53 accept", "no name server without an open network")
		require.Contains(t, rs, `oifname "lo" ip daddr 127.0.0.11 reject`)
		require.NotContains(t, rs, "output accept\n")
	}
	require.NotContains(t, none, "198.51.100.7")
	require.Contains(t, list, "ip daddr 198.51.100.7/32 meta l4proto { tcp, udp } th dport 443 accept")
	require.Contains(t, list, "ip6 daddr 2001:db8:1::/48 accept")
	// Blocked ranges come before the allowlist: listing one does not open it.
	require.Less(t, strings.Index(list, "@blocked4"), strings.Index(list, "198.51.100.7"))

	p := testPolicy(core.NetworkNone)
	p.BayAPIPort = 8000
	api := ruleset(p)
	require.Contains(t, api, "ip daddr @host4 tcp dport 8000 accept")
	require.Less(t, strings.Index(api, "tcp dport 8000 accept"), strings.Index(api, "@neighbours4 reject"),
		"the gateway is in a neighbour subnet: the Bay API rule must come first")
}

// TestRuleset_LoadsIntoNft loads every mode's rules into a throwaway network
// namespace with the host's nft, which proves the syntax the guards run.
func TestRuleset_LoadsIntoNft(t *testing.T) {
	t.Parallel()
	_, ipErr := exec.LookPath("ip")
	_, nftErr := exec.LookPath("nft")
	if ipErr != nil || nftErr != nil || os.Geteuid() != 0 {
		testenv.Skipf(t, "loading rules needs root, ip and nft")
	}
	ns := fmt.Sprintf("bay-guard-test-%04x", rand.IntN(1<<16))
	out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	for _, mode := range []core.NetworkMode{core.NetworkOpen, core.NetworkNone, core.NetworkAllowlist} {
		p := testPolicy(mode)
		p.BayAPIPort = 8000
		rs := ruleset(p)
		for range 2 { // a second run replaces the first
			out, err := exec.Command("ip", "netns", "exec", ns, "nft", rs).CombinedOutput()
			require.NoError(t, err, "mode %s: %s\n%s", mode, out, rs)
		}
		out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "inet", guardTable).CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.Contains(t, string(out), "policy drop")
	}
}
