package core_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

func TestParseNetworkRule(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"example.com":              "example.com",
		"Example.COM.":             "example.com",
		"example.com:443":          "example.com:443",
		"203.0.113.7":              "203.0.113.7",
		"203.0.113.7:8080":         "203.0.113.7:8080",
		"203.0.113.9/24":           "203.0.113.0/24",
		"203.0.113.0/24:443":       "203.0.113.0/24:443",
		"2001:db8::1":              "2001:db8::1",
		"[2001:db8::1]:443":        "[2001:db8::1]:443",
		"2001:db8::/32":            "2001:db8::/32",
		"::ffff:203.0.113.7":       "203.0.113.7",
		" files.pythonhosted.org ": "files.pythonhosted.org",
	} {
		r, err := core.ParseNetworkRule(in)
		require.NoError(t, err, in)
		require.Equal(t, want, r.String(), in)
	}
	for _, in := range []string{
		"", "exa mple.com", "example.com:0", "example.com:65536", "example.com:http",
		"-bad.example", "[2001:db8::1", "[2001:db8::1]443", "203.0.113.0/33", "fe80::1%eth0",
		"http://example.com",
	} {
		_, err := core.ParseNetworkRule(in)
		require.Equal(t, core.CodeValidation, core.CodeOf(err), "%q: %v", in, err)
	}
}

func TestParseBlockedHost(t *testing.T) {
	t.Parallel()
	p, err := core.ParseBlockedHost("10.1.2.3/8")
	require.NoError(t, err)
	require.Equal(t, "10.0.0.0/8", p.String())
	p, err = core.ParseBlockedHost("169.254.169.254")
	require.NoError(t, err)
	require.Equal(t, "169.254.169.254/32", p.String())
	for _, in := range []string{"metadata.internal", "10.0.0.0/40", ""} {
		_, err := core.ParseBlockedHost(in)
		require.Equal(t, core.CodeValidation, core.CodeOf(err), in)
	}
}
