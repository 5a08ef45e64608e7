package docker

import (
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"
)

// endpoint derives the URL at which Bay reaches the runtime of a started
// container (lifecycle.md §13.4):
//
//  1. container_network and auto: the container's IP on the configured
//     network if attached, else on the first attached network (by name);
//  2. host_port and auto: the first host binding of the runtime port, with a
//     wildcard bind address replaced by HostAddress;
//  3. otherwise the container's name, which resolves on a user network.
func endpoint(opts Options, info container.InspectResponse, port int) string {
	if opts.ConnectMode == ConnectContainerNetwork || opts.ConnectMode == ConnectAuto {
		if ip := containerIP(opts.Network, info.NetworkSettings); ip != "" {
			return "http://" + net.JoinHostPort(ip, strconv.Itoa(port))
		}
	}
	if opts.ConnectMode == ConnectHostPort || opts.ConnectMode == ConnectAuto {
		if info.NetworkSettings != nil {
			for _, b := range info.NetworkSettings.Ports[nat.Port(strconv.Itoa(port)+"/tcp")] {
				if b.HostPort == "" {
					continue
				}
				host := b.HostIP
				switch host {
				case "", "0.0.0.0", "::":
					host = opts.HostAddress
				}
				return "http://" + net.JoinHostPort(host, b.HostPort)
			}
		}
	}
	name := ""
	if info.ContainerJSONBase != nil {
		name = strings.TrimPrefix(info.Name, "/")
	}
	return "http://" + net.JoinHostPort(name, strconv.Itoa(port))
}

// containerIP returns the container's address on the preferred network, or
// on the first attached network by name.
func containerIP(preferred string, ns *container.NetworkSettings) string {
	if ns == nil {
		return ""
	}
	if n := ns.Networks[preferred]; preferred != "" && n != nil && n.IPAddress != "" {
		return n.IPAddress
	}
	names := make([]string, 0, len(ns.Networks))
	for name := range ns.Networks {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if n := ns.Networks[name]; n != nil && n.IPAddress != "" {
			return n.IPAddress
		}
	}
	return ""
}
