package httpapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/core"
)

// keyOnly configures a server that accepts only an API key: /docs must not
// need it.
func keyOnly(o *Options) {
	o.APIKey = "secret"
	o.AllowAnonymous = false
}

func TestDocs_Page(t *testing.T) {
	t.Parallel()
	b := setup(t, keyOnly)
	for _, method := range []string{"GET", "HEAD"} {
		resp := b.do(t, method, "/docs", nil)
		require.Equal(t, 200, resp.StatusCode, method)
		h := resp.Header
		require.Equal(t, "text/html; charset=utf-8", h.Get("Content-Type"))
		require.Equal(t, docsCSP, h.Get("Content-Security-Policy"))
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
		require.Equal(t, "no-cache", h.Get("Cache-Control"))
		require.NotEmpty(t, h.Get("X-Request-Id"))
		body := string(readAll(t, resp))
		if method == "HEAD" {
			require.Empty(t, body)
			continue
		}
		v := b.server.docs.version
		require.Regexp(t, `^[0-9a-f]{16}$`, v)
		for _, ref := range []string{
			`href="/docs/swagger-ui.css?v=` + v + `"`,
			`src="/docs/swagger-ui-bundle.js?v=` + v + `"`,
			`src="/docs/bay-docs.js?v=` + v + `"`,
			`data-spec="/openapi.json"`,
			`<title>Bay API 1.0.0</title>`,
		} {
			require.Contains(t, body, ref)
		}
		// Nothing inline the CSP would refuse, nothing from elsewhere.
		require.Len(t, regexp.MustCompile(`<script src="/docs/[^"]+"></script>`).FindAllString(body, -1),
			strings.Count(body, "<script"))
		require.NotContains(t, body, "style=")
		require.NotContains(t, body, "<style")
		require.NotContains(t, body, "http://")
		require.NotContains(t, body, "https://")
	}
}

// TestDocs_CSP: the page's policy allows nothing but Bay itself, and
// nothing inline or evaluated.
func TestDocs_CSP(t *testing.T) {
	t.Parallel()
	directives := map[string]string{}
	for _, d := range strings.Split(docsCSP, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	require.Equal(t, map[string]string{
		"default-src":     "'none'",
		"script-src":      "'self'",
		"style-src":       "'self'",
		"img-src":         "'self' data:",
		"connect-src":     "'self'",
		"base-uri":        "'none'",
		"form-action":     "'none'",
		"frame-ancestors": "'none'",
	}, directives)
}

func TestDocs_Assets(t *testing.T) {
	t.Parallel()
	b := setup(t, keyOnly)
	require.Equal(t, 200, b.do(t, "GET", "/docs", nil).StatusCode)
	v := b.server.docs.version
	want := map[string]string{
		"swagger-ui.css":           "text/css; charset=utf-8",
		"swagger-ui.css.map":       "application/json; charset=utf-8",
		"swagger-ui-bundle.js":     "text/javascript; charset=utf-8",
		"swagger-ui-bundle.js.map": "application/json; charset=utf-8",
		"index.css":                "text/css; charset=utf-8",
		"favicon-16x16.png":        "image/png",
		"favicon-32x32.png":        "image/png",
		"bay-docs.js":              "text/javascript; charset=utf-8",
	}
	require.Equal(t, want, docsAssets)
	for name, ct := range want {
		resp := b.do(t, "GET", "/docs/"+name+"?v="+v, nil)
		require.Equal(t, 200, resp.StatusCode, name)
		h := resp.Header
		require.Equal(t, ct, h.Get("Content-Type"), name)
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), name)
		require.Equal(t, "public, max-age=31536000, immutable", h.Get("Cache-Control"), name)
		require.Equal(t, `"`+v+`"`, h.Get("ETag"), name)
		require.Equal(t, docsAssetCSP, h.Get("Content-Security-Policy"), name)
		body := readAll(t, resp)
		require.NotEmpty(t, body, name)
		switch {
		case strings.HasSuffix(name, ".png"):
			require.Equal(t, "\x89PNG", string(body[:4]), name)
		case strings.HasSuffix(name, ".map"):
			require.True(t, json.Valid(body), name)
		}
	}
	bundle := string(readAll(t, b.do(t, "GET", "/docs/swagger-ui-bundle.js", nil)))
	require.Contains(t, bundle, "SwaggerUIBundle")
	css := string(readAll(t, b.do(t, "GET", "/docs/swagger-ui.css", nil)))
	require.Contains(t, css, ".swagger-ui")
	script := string(readAll(t, b.do(t, "GET", "/docs/bay-docs.js", nil)))
	for _, s := range []string{"SwaggerUIBundle({", `getAttribute("data-spec")`, "deepLinking: true",
		"persistAuthorization: false", "validatorUrl: null", "queryConfigEnabled: false"} {
		require.Contains(t, script, s)
	}

	// Without the current version (an old page, a hand-typed URL) an
	// asset is kept an hour only.
	for _, q := range []string{"", "?v=0123456789abcdef"} {
		resp := b.do(t, "GET", "/docs/swagger-ui.css"+q, nil)
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, "public, max-age=3600", resp.Header.Get("Cache-Control"), q)
	}
	// Revalidation, HEAD and ranges, as http.ServeContent does them.
	resp := b.do(t, "GET", "/docs/swagger-ui.css", nil, "If-None-Match", `"`+v+`"`)
	require.Equal(t, http.StatusNotModified, resp.StatusCode)
	require.Empty(t, readAll(t, resp))
	resp = b.do(t, "HEAD", "/docs/swagger-ui-bundle.js", nil)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "text/javascript; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Equal(t, int64(len(bundle)), resp.ContentLength)
	require.Empty(t, readAll(t, resp))
	resp = b.do(t, "GET", "/docs/swagger-ui.css", nil, "Range", "bytes=0-9")
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	require.Equal(t, css[:10], string(readAll(t, resp)))
}

// TestDocs_Version: the assets' version changes with their contents, so
// browsers do not mix the assets of two Bays.
func TestDocs_Version(t *testing.T) {
	t.Parallel()
	v1, err := docsAssetsVersion()
	require.NoError(t, err)
	v2, err := docsAssetsVersion()
	require.NoError(t, err)
	require.Equal(t, v1, v2)
	require.Len(t, v1, 16)
}

func TestDocs_UnknownAsset(t *testing.T) {
	t.Parallel()
	b := setup(t, keyOnly)
	// swagger-ui-dist's own page and configuration (the petstore) are not
	// served; neither is anything outside it.
	for _, p := range []string{"/docs/nope.js", "/docs/index.html", "/docs/swagger-initializer.js",
		"/docs/oauth2-redirect.html", "/docs/swagger-ui.js", "/docs/a/swagger-ui.css", "/docs/%2e%2e/openapi.json"} {
		for _, method := range []string{"GET", "HEAD"} {
			resp := b.do(t, method, p, nil)
			body := readAll(t, resp)
			if method == "HEAD" {
				require.Equal(t, 404, resp.StatusCode, p)
				require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"), p)
				continue
			}
			env := requireError(t, resp, body, 404, core.CodeNotFound)
			require.Equal(t, `"Not Found"`, string(env.Detail), p)
		}
	}
	// Assets are read-only.
	resp := b.do(t, "POST", "/docs/swagger-ui.css", nil)
	requireError(t, resp, readAll(t, resp), 405, core.CodeMethodNotAllowed)
	require.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))
}

func TestDocs_TrailingSlash(t *testing.T) {
	t.Parallel()
	b := setup(t)
	client := *b.http.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Get(b.http.URL + "/docs/")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
	require.Equal(t, "/docs", resp.Header.Get("Location"))
}

// TestDocs_OneRoute: the access log and the metrics see every asset, found
// or not, as the one route pattern, not one label per file.
func TestDocs_OneRoute(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, p := range []string{"/docs", "/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js", "/docs/bay-docs.js", "/docs/nope.js"} {
		readAll(t, b.do(t, "GET", p, nil, "X-Request-Id", "docs-route"))
	}
	b.metrics.mu.Lock()
	obs := append([]string(nil), b.metrics.obs...)
	b.metrics.mu.Unlock()
	require.ElementsMatch(t, []string{
		"GET /docs 200",
		"GET /docs/{file...} 200", "GET /docs/{file...} 200", "GET /docs/{file...} 200",
		"GET /docs/{file...} 404",
	}, obs)
	routes := 0
	for _, l := range strings.Split(strings.TrimSpace(b.logs.String()), "\n") {
		var line map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &line))
		if line["request_id"] == "docs-route" && line["route"] == "GET /docs/{file...}" {
			routes++
		}
	}
	require.Equal(t, 4, routes)
}
