package docker

import (
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
	"github.com/stretchr/testify/require"
)

// The endpoint rules are also exercised against the daemon in the external
// tests; this table covers the network layouts a single host cannot set up.
func TestEndpoint(t *testing.T) {
	t.Parallel()
	inspect := func(networks map[string]string, bindings ...nat.PortBinding) container.InspectResponse {
		ns := &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{}}
		for name, ip := range networks {
			ns.Networks[name] = &network.EndpointSettings{IPAddress: ip}
		}
		ns.Ports = nat.PortMap{"8123/tcp": bindings}
		return container.InspectResponse{
			ContainerJSONBase: &container.ContainerJSONBase{Name: "/bay-session-sess-1"},
			NetworkSettings:   ns,
		}
	}
	both := inspect(map[string]string{"bridge": "172.17.0.5", "baynet": "10.9.0.7"},
		nat.PortBinding{HostIP: "0.0.0.0", HostPort: "49153"}, nat.PortBinding{HostIP: "::", HostPort: "49153"})

	for _, tc := range []struct {
		name string
		opts Options
		info container.InspectResponse
		want string
	}{
		{"Network/ConfiguredNetworkWins", Options{ConnectMode: ConnectContainerNetwork, Network: "baynet"}, both, "http://10.9.0.7:8123"},
		{"Network/FirstNetworkByName", Options{ConnectMode: ConnectContainerNetwork}, both, "http://10.9.0.7:8123"},
		{"Network/UnattachedConfiguredFallsBack", Options{ConnectMode: ConnectContainerNetwork, Network: "other"},
			inspect(map[string]string{"bridge": "172.17.0.5"}), "http://172.17.0.5:8123"},
		{"Network/NoAddressUsesName", Options{ConnectMode: ConnectContainerNetwork},
			inspect(map[string]string{"none": ""}, nat.PortBinding{HostIP: "0.0.0.0", HostPort: "49153"}), "http://bay-session-sess-1:8123"},
		{"HostPort/WildcardBecomesHostAddress", Options{ConnectMode: ConnectHostPort, HostAddress: "192.0.2.1"}, both, "http://192.0.2.1:49153"},
		{"HostPort/EmptyIPBecomesHostAddress", Options{ConnectMode: ConnectHostPort, HostAddress: "127.0.0.1"},
			inspect(nil, nat.PortBinding{HostPort: "40000"}), "http://127.0.0.1:40000"},
		{"HostPort/SpecificIPKept", Options{ConnectMode: ConnectHostPort, HostAddress: "127.0.0.1"},
			inspect(nil, nat.PortBinding{HostIP: "198.51.100.4", HostPort: "40000"}), "http://198.51.100.4:40000"},
		{"HostPort/IPv6Bracketed", Options{ConnectMode: ConnectHostPort, HostAddress: "127.0.0.1"},
			inspect(nil, nat.PortBinding{HostIP: "fd00::1", HostPort: "40000"}), "http://[fd00::1]:40000"},
		{"HostPort/NoBindingUsesName", Options{ConnectMode: ConnectHostPort, HostAddress: "127.0.0.1"},
			inspect(map[string]string{"bridge": "172.17.0.5"}), "http://bay-session-sess-1:8123"},
		{"Auto/PrefersContainerIP", Options{ConnectMode: ConnectAuto, HostAddress: "127.0.0.1"}, both, "http://10.9.0.7:8123"},
		{"Auto/FallsBackToHostPort", Options{ConnectMode: ConnectAuto, HostAddress: "127.0.0.1"},
			inspect(nil, nat.PortBinding{HostIP: "0.0.0.0", HostPort: "49153"}), "http://127.0.0.1:49153"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, endpoint(tc.opts, tc.info, 8123))
		})
	}
}

func TestHostURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                            DefaultHost,
		"/run/docker.sock":            "unix:///run/docker.sock",
		"unix:///var/run/docker.sock": "unix:///var/run/docker.sock",
		"tcp://10.0.0.1:2375":         "tcp://10.0.0.1:2375",
	} {
		got, err := hostURL(in)
		require.NoError(t, err)
		require.Equal(t, want, got, in)
	}
	_, err := hostURL("npipe:////./pipe/docker_engine")
	require.Error(t, err)
}
