package test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/bayhq/bay"

type pkg struct {
	ImportPath string
	Imports    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", module+"/...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	require.NoError(t, err)
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		pkgs = append(pkgs, p)
	}
	require.NotEmpty(t, pkgs)
	return pkgs
}

func isStd(path string) bool { return !strings.Contains(strings.SplitN(path, "/", 2)[0], ".") }

func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

// shipWire is the Ship wire contract (spec/ship.md): the one Ship package
// Bay may import, and only from its Ship client.
const (
	shipWire       = "ship/wire"
	shipWireClient = "adapters/shipclient"
)

// shipSide reports whether a package belongs to Ship rather than Bay.
const (
	browserWire       = "browser/wire"
	browserWireClient = "adapters/browserclient"
)

// browserSide is the browser runtime: it stands apart from Bay as Ship does.
func browserSide(path string) bool {
	return path == "browser" || strings.HasPrefix(path, "browser/") || path == "cmd/browserd"
}

// kubernetesAdapter is the one package that imports k8s.io modules;
// clientset is the part of client-go it must not import.
const (
	kubernetesAdapter = "adapters/kubernetes"
	clientset         = "k8s.io/client-go/kubernetes"
)

func shipSide(path string) bool {
	return strings.HasPrefix(path, "ship/") || path == "cmd/ship" || path == "cmd/fakeship"
}

// TestArchitecture keeps the dependency direction of STYLE.md §1: core knows
// no adapter, adapters never import each other, generated packages are used
// only by their own adapter, and Ship stands apart from Bay: Ship imports
// nothing of Bay, and Bay imports of Ship only the wire contract, from its
// Ship client, which the contract's package keeps to the standard library.
// The browser runtime stands apart the same way: it imports nothing of Bay,
// and Bay imports only its wire contract, from the browser client.
func TestArchitecture(t *testing.T) {
	t.Parallel()
	for _, p := range listPackages(t) {
		from := rel(p.ImportPath)
		for _, imp := range p.Imports {
			own := strings.HasPrefix(imp, module)
			to := rel(imp)
			if own && shipSide(to) && !shipSide(from) {
				require.True(t, to == shipWire && from == shipWireClient,
					"%s must not import Ship's %s (only %s imports %s)", from, imp, shipWireClient, shipWire)
			}
			if own && browserSide(to) && !browserSide(from) {
				require.True(t, to == browserWire && from == browserWireClient,
					"%s must not import the browser runtime's %s (only %s imports %s)", from, imp, browserWireClient, browserWire)
			}
			if own && browserSide(from) {
				require.True(t, browserSide(to), "%s must not import Bay's %s", from, imp)
			}
			switch {
			case from == shipWire:
				require.True(t, isStd(imp), "%s must import only the standard library, not %s", from, imp)
			case from == "core" || (strings.HasPrefix(from, "core/") && from != "core/conformance"):
				if own {
					require.True(t, to == "core", "%s must import only core, not %s", from, imp)
				} else {
					require.True(t, isStd(imp), "%s must import only the standard library, not %s", from, imp)
				}
			case strings.HasPrefix(from, "adapters/"):
				if own && strings.HasPrefix(to, "adapters/") {
					mine := strings.SplitN(from, "/", 3)[:2]
					theirs := strings.SplitN(to, "/", 3)[:2]
					require.Equal(t, mine, theirs, "adapter %s must not import %s", from, imp)
				}
			case shipSide(from):
				if own {
					require.True(t, strings.HasPrefix(to, "ship/"), "%s must not import Bay's %s", from, imp)
				}
			}
			// Kubernetes' libraries stay in their adapter, and the generated
			// clientset stays out of the binary: its scheme registers every
			// API group when the program starts, on Docker too.
			if strings.HasPrefix(imp, "k8s.io/") {
				require.Equal(t, kubernetesAdapter, from, "only %s imports %s", kubernetesAdapter, imp)
				require.False(t, imp == clientset || strings.HasPrefix(imp, clientset+"/"),
					"%s imports %s: use client-go's REST client with its own scheme", from, imp)
			}
			if strings.Contains(to, "/internal/") && own {
				owner := to[:strings.Index(to, "/internal/")]
				require.True(t, strings.HasPrefix(from, owner), "%s must not import %s", from, imp)
			}
		}
	}
}
