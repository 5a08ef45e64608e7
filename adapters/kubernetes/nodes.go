package kubernetes

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/bayhq/bay/core"
)

// nodeFacts is what the runtime needs to know about the cluster's nodes:
// their addresses and pod ranges, which no sandbox reaches (the runtime
// host's own addresses, other sandboxes), and their images.
type nodeFacts struct {
	// known is false when the nodes could not be listed (Bay's account may
	// lack the permission): the blocked ranges must then cover them.
	known bool
	addrs []netip.Prefix
	pods  []netip.Prefix
	ipv6  bool
	// images holds, per node, the names of its images, or nil when the
	// node's list may be incomplete (the kubelet reports at most
	// maxNodeImages images per node).
	images []map[string]bool
}

// maxNodeImages is the kubelet's default nodeStatusMaxImages: a node that
// lists this many images may have more.
const maxNodeImages = 50

// nodesTTL is how long facts about the nodes are reused.
const nodesTTL = 30 * time.Second

// nodeFacts returns the facts about the nodes pods may run on, from the
// cache when it is younger than nodesTTL (or fresh is false and it has
// any). Listing nodes needs a cluster-wide permission that a minimal
// deployment may not grant: then the facts are unknown, with one warning.
func (r *Runtime) nodeFacts(ctx context.Context, fresh bool) nodeFacts {
	r.nodesMu.Lock()
	defer r.nodesMu.Unlock()
	if !fresh && !r.nodesAt.IsZero() && time.Since(r.nodesAt) < nodesTTL {
		return r.nodes
	}
	c, err := r.api()
	if err != nil {
		return r.nodes
	}
	req := c.core.Get().Resource("nodes")
	if len(r.opts.NodeSelector) > 0 {
		req = req.Param("labelSelector", labels.SelectorFromSet(r.opts.NodeSelector).String())
	}
	var list corev1.NodeList
	if err := req.Do(ctx).Into(&list); err != nil {
		r.nodesWarn.Do(func() {
			r.log.WarnContext(ctx, "cannot list the cluster's nodes: sandboxes are kept from the nodes' addresses by security.blocked_hosts only, and missing images are found when a pod starts",
				"err", err)
		})
		return r.nodes
	}
	var f nodeFacts
	f.known = true
	for _, n := range list.Items {
		for _, a := range n.Status.Addresses {
			if a.Type != corev1.NodeInternalIP && a.Type != corev1.NodeExternalIP {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil {
				ip = ip.Unmap()
				f.addrs = append(f.addrs, netip.PrefixFrom(ip, ip.BitLen()))
				f.ipv6 = f.ipv6 || ip.Is6()
			}
		}
		cidrs := n.Spec.PodCIDRs
		if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
			cidrs = []string{n.Spec.PodCIDR}
		}
		for _, s := range cidrs {
			if p, err := netip.ParsePrefix(s); err == nil {
				f.pods = append(f.pods, p.Masked())
				f.ipv6 = f.ipv6 || p.Addr().Is6()
			}
		}
		var imgs map[string]bool
		if len(n.Status.Images) < maxNodeImages {
			imgs = map[string]bool{}
			for _, img := range n.Status.Images {
				for _, name := range img.Names {
					imgs[name] = true
				}
			}
		}
		f.images = append(f.images, imgs)
	}
	r.nodes, r.nodesAt = f, time.Now()
	return f
}

// imageMissing reports whether no node that pods may run on has image,
// as far as the nodes' lists tell: an incomplete list, or nodes that
// cannot be listed, count as having it.
func (f nodeFacts) imageMissing(image string) bool {
	if !f.known || len(f.images) == 0 {
		return false
	}
	name := normalizeImage(image)
	return !slices.ContainsFunc(f.images, func(imgs map[string]bool) bool { return imgs == nil || imgs[name] })
}

// ImagePresent reports whether pods can get the image: with the pull
// policy Never, whether a node has it, as far as the nodes' image lists
// tell (a node lists at most 50 images; one that lists that many counts
// as having it); with the others, always (a node may pull it). Without
// permission to list nodes it reports true: a missing image then shows
// when a pod starts.
func (r *Runtime) ImagePresent(ctx context.Context, image string) (bool, error) {
	if _, err := r.api(); err != nil {
		return false, err
	}
	if r.opts.ImagePullPolicy != PullNever {
		return true, nil
	}
	f := r.nodeFacts(ctx, true)
	return !f.imageMissing(image), nil
}

// ImageHint tells an operator how to provide a missing image.
func ImageHint(image string) string {
	return "build it with `images/build.sh image " + image + "` in Bay's source tree and load it into the cluster's nodes (scripts/k8s.sh load for the test cluster), or push it to a registry the nodes pull from"
}

// normalizeImage returns the name a node's runtime lists an image under:
// Docker Hub's host and library/ prefix, and the tag latest, made
// explicit (the rules of the distribution reference grammar).
func normalizeImage(image string) string {
	name, digest, hasDigest := strings.Cut(image, "@")
	first, rest, hasSlash := strings.Cut(name, "/")
	switch {
	case !hasSlash:
		name = "docker.io/library/" + name
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		name = "docker.io/" + name
	case first == "index.docker.io":
		name = "docker.io/" + rest
	}
	if hasDigest {
		return name + "@" + digest
	}
	if i := strings.LastIndex(name, ":"); i < 0 || strings.Contains(name[i:], "/") {
		name += ":latest"
	}
	return name
}

// missingImageError is the error of a pod whose image no node has.
func missingImageError(image, why string, cause error) error {
	msg := fmt.Sprintf("image %q is not present on the cluster's nodes", image)
	if why != "" {
		msg += " (" + why + ")"
	}
	err := core.ErrImageMissing
	if cause != nil {
		err = fmt.Errorf("%w: %w", core.ErrImageMissing, cause)
	}
	return &core.Error{Code: core.CodeInternal, Message: msg + ": " + ImageHint(image),
		Details: map[string]any{"image": image}, Err: err}
}
