package test

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// testFileCrossings are the layer crossings test files may make beyond what
// their package imports. STYLE.md §6 has core's service tests and httpapi's
// handler tests run the real services over a SQLite store in a temporary
// directory, so both import adapters/sqlite; nothing else crosses.
var testFileCrossings = map[string][]string{
	"core":             {"adapters/sqlite"},
	"adapters/httpapi": {"adapters/sqlite"},
}

// TestArchitecture_TestFiles applies the layering to test files, which
// TestArchitecture does not see (`go list` keeps their imports apart): core's
// tests import core, its fakes and its conformance suites; an adapter's tests
// import no other adapter; only the crossings above are allowed. Ship's
// tests run Bay's conformance suites against Ship, which is their purpose,
// so the Ship side is left out.
func TestArchitecture_TestFiles(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "list", "-json=ImportPath,TestImports,XTestImports", module+"/...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	require.NoError(t, err)
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath   string
			TestImports  []string
			XTestImports []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		from := rel(p.ImportPath)
		for _, imp := range append(p.TestImports, p.XTestImports...) {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			to := rel(imp)
			allowed := slices.Contains(testFileCrossings[from], to)
			switch {
			case from == "core" || strings.HasPrefix(from, "core/"):
				require.True(t, allowed || to == "core" || strings.HasPrefix(to, "core/"),
					"tests of %s must not import %s", from, imp)
			case strings.HasPrefix(from, "adapters/") && strings.HasPrefix(to, "adapters/"):
				mine := strings.SplitN(from, "/", 3)[:2]
				theirs := strings.SplitN(to, "/", 3)[:2]
				require.True(t, allowed || slices.Equal(mine, theirs), "tests of adapter %s must not import %s", from, imp)
			}
			if i := strings.Index(to, "/internal/"); i >= 0 {
				require.True(t, strings.HasPrefix(from, to[:i]), "tests of %s must not import %s", from, imp)
			}
		}
	}
}
