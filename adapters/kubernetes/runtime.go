package kubernetes

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/bayhq/bay/core"
)

// Image pull policies (driver.k8s.image_pull_policy).
const (
	PullIfNotPresent = string(corev1.PullIfNotPresent)
	PullNever        = string(corev1.PullNever)
	PullAlways       = string(corev1.PullAlways)
)

// DefaultPodReadyTimeout bounds how long StartContainer waits for a pod's
// container to run when Options gives no timeout.
const DefaultPodReadyTimeout = 120 * time.Second

// Options configures a Runtime (kubernetes.md §2 driver.k8s).
type Options struct {
	// Namespace holds every object the runtime creates; it must exist.
	Namespace string
	// Kubeconfig is the path of a kubeconfig file; empty means the pod's
	// service account (Bay running in the cluster).
	Kubeconfig string
	// StorageClass of the lockers' claims; empty is the cluster's default.
	StorageClass string
	// ImagePullPolicy of runtime and helper pods: IfNotPresent (the
	// default), Never or Always.
	ImagePullPolicy string
	// PodReadyTimeout bounds the wait for a started pod's container to run
	// (and for a helper pod); zero means DefaultPodReadyTimeout.
	PodReadyTimeout time.Duration
	// RuntimeClassName, when set, runs sandbox pods under that runtime
	// class (gVisor, Kata).
	RuntimeClassName string
	// NodeSelector constrains the nodes sandbox and helper pods run on.
	NodeSelector map[string]string
	// BayPodLabels select Bay's own pods, the only pods a sandbox pod
	// accepts connections from (and, with allow_bay_api, connects to).
	// Empty means none: only the nodes reach sandbox pods.
	BayPodLabels map[string]string
	// InstanceID is written to the bay.instance_id label of pods whose
	// spec gives none.
	InstanceID string
	// Labels are added to every object the runtime creates, beneath the
	// bay.* labels (which win on a clash). Tests use them to tag and sweep
	// their objects.
	Labels map[string]string
	// HelperImage is the image of the short-lived pods that mount a locker
	// for direct file access. Unlike Docker's never-started helper, it
	// runs: it needs a POSIX shell with sleep, stat, cat, mkdir, chown,
	// chmod, mv and dirname (Ship's images have them).
	HelperImage string
	// BlockedHosts are ranges no sandbox reaches, whatever its profile
	// (security.blocked_hosts).
	BlockedHosts []netip.Prefix
	// BayAPIPort is the port of Bay's own API, which a profile with
	// allow_bay_api may reach on Bay's pods and the nodes.
	BayAPIPort int
	// DefaultVolumeMB is the size a locker's claim requests when its spec
	// gives no limit (locker.default_size_limit_mb): a claim always names
	// a size.
	DefaultVolumeMB int64
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
}

// Runtime is core.Runtime on Kubernetes.
type Runtime struct {
	opts Options
	log  *slog.Logger

	// mu guards the clients, made on first use (api) so that Bay starts
	// whether or not the cluster answers, and pays nothing for them until
	// then.
	mu  sync.Mutex
	cli *clients

	// nodesMu guards the cached facts about the cluster's nodes (nodes.go).
	nodesMu   sync.Mutex
	nodes     nodeFacts
	nodesAt   time.Time
	nodesWarn sync.Once
}

// clients are the REST clients of the two API groups the runtime uses,
// sharing one HTTP client.
type clients struct {
	cfg  *rest.Config
	core *rest.RESTClient // the core group: pods, claims, nodes
	net  *rest.RESTClient // networking.k8s.io: network policies
}

var _ core.Runtime = (*Runtime)(nil)

// Open checks opts and returns a Runtime. It neither reads the kubeconfig
// nor contacts the cluster: both happen on first use, so Bay starts when
// the cluster is down, and errors surface on use.
func Open(opts Options) (*Runtime, error) {
	if opts.Namespace == "" {
		return nil, core.Invalid("kubernetes namespace is empty")
	}
	if errs := validation.IsDNS1123Label(opts.Namespace); len(errs) > 0 {
		return nil, core.Invalid("kubernetes namespace %q: %s", opts.Namespace, errs[0])
	}
	switch opts.ImagePullPolicy {
	case "":
		opts.ImagePullPolicy = PullIfNotPresent
	case PullIfNotPresent, PullNever, PullAlways:
	default:
		return nil, core.Invalid("kubernetes image pull policy %q: want IfNotPresent, Never or Always", opts.ImagePullPolicy)
	}
	if opts.PodReadyTimeout <= 0 {
		opts.PodReadyTimeout = DefaultPodReadyTimeout
	}
	for k, v := range opts.BayPodLabels {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, core.Invalid("bay pod label key %q: %s", k, errs[0])
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, core.Invalid("bay pod label %s=%q: %s", k, v, errs[0])
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runtime{opts: opts, log: log.With("component", "kubernetes")}, nil
}

// codecs encode and decode the two API groups the runtime speaks, and
// nothing else. They are made on first use: a Bay on Docker never pays
// for them.
var codecs = sync.OnceValue(func() serializer.CodecFactory {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, networkingv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err) // static registrations: a bug if it happens
		}
	}
	return serializer.NewCodecFactory(s)
})

// api returns the clients, making them on first use. A failure (an
// unreadable kubeconfig) is returned and tried again on the next call.
func (r *Runtime) api() (*clients, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cli != nil {
		return r.cli, nil
	}
	var (
		cfg *rest.Config
		err error
	)
	if r.opts.Kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", r.opts.Kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, core.Wrap(err, core.CodeInternal, "kubernetes client configuration")
	}
	cfg.UserAgent = "bay"
	// client-go's default (5 requests a second, bursts of 10) would make
	// a busy Bay wait on itself: each session start is a few requests.
	cfg.QPS, cfg.Burst = 100, 200
	cfg.Timeout = 0 // every call has its context
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, core.Wrap(err, core.CodeInternal, "kubernetes HTTP client")
	}
	coreCli, err := restClient(cfg, hc, "/api", corev1.SchemeGroupVersion)
	if err != nil {
		return nil, err
	}
	netCli, err := restClient(cfg, hc, "/apis", networkingv1.SchemeGroupVersion)
	if err != nil {
		return nil, err
	}
	r.cli = &clients{cfg: cfg, core: coreCli, net: netCli}
	return r.cli, nil
}

// restClient returns a REST client of one group version over hc.
func restClient(base *rest.Config, hc *http.Client, apiPath string, gv schema.GroupVersion) (*rest.RESTClient, error) {
	cfg := rest.CopyConfig(base)
	cfg.APIPath = apiPath
	cfg.GroupVersion = &gv
	cfg.ContentType = runtime.ContentTypeJSON
	cfg.NegotiatedSerializer = codecs().WithoutConversion()
	c, err := rest.RESTClientForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, core.Wrap(err, core.CodeInternal, fmt.Sprintf("kubernetes client of %s", gv))
	}
	return c, nil
}

// Ping checks that the cluster answers and lets Bay list pods in its
// namespace.
func (r *Runtime) Ping(ctx context.Context) error {
	c, err := r.api()
	if err != nil {
		return err
	}
	var list corev1.PodList
	err = c.core.Get().Namespace(r.opts.Namespace).Resource("pods").Param("limit", "1").Do(ctx).Into(&list)
	return translate(ctx, err, "list pods in namespace "+r.opts.Namespace)
}

// Close releases the idle connections of the HTTP client, if one was made.
func (r *Runtime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cli != nil {
		if hc := r.cli.core.Client; hc != nil {
			hc.CloseIdleConnections()
		}
	}
	return nil
}

// labels returns the configured extra labels overlaid with own.
func (r *Runtime) labels(own map[string]string) map[string]string {
	out := make(map[string]string, len(r.opts.Labels)+len(own))
	for k, v := range r.opts.Labels {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}
