package httpapi

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	swaggerFiles "github.com/swaggo/files/v2"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
	"github.com/bayhq/bay/core"
)

//go:embed docs.html.tmpl
var docsFS embed.FS

// docsTemplate is parsed with the page, on its first request (see docs):
// parsing it when the package loads cost every start-up.
func docsTemplate() (*template.Template, error) {
	return template.ParseFS(docsFS, "docs.html.tmpl")
}

// docsCSP is the Content-Security-Policy of the /docs page, the tightest
// Swagger UI works under: its script, styles and the spec come from Bay
// itself; nothing is inline (Swagger UI sets its dynamic styles through
// the DOM, which style-src does not govern, and the page's configuration is
// the script served at /docs/bay-docs.js). Its stylesheet draws icons from
// data: URIs. Try-it-out calls go to Bay itself (the spec's server is "/");
// a downloaded file (application/octet-stream) is a blob: link, which
// img-src does not need to allow. No frames, form posts, plugins or <base>.
// test/docs_test.go runs the page in Chromium and fails on any violation.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// docsAssetCSP sandboxes an asset opened on its own (a source map, the
// script as text): it never runs anything.
const docsAssetCSP = "default-src 'none'; frame-ancestors 'none'; sandbox"

// docsAssets are the files under /docs/: Swagger UI's, from swagger-ui-dist
// as github.com/swaggo/files/v2 embeds it, and the page's configuration
// (bay-docs.js). Anything else there is 404.
var docsAssets = map[string]string{
	"swagger-ui.css":           "text/css; charset=utf-8",
	"swagger-ui.css.map":       "application/json; charset=utf-8",
	"swagger-ui-bundle.js":     "text/javascript; charset=utf-8",
	"swagger-ui-bundle.js.map": "application/json; charset=utf-8",
	"index.css":                "text/css; charset=utf-8",
	"favicon-16x16.png":        "image/png",
	"favicon-32x32.png":        "image/png",
	docsScriptName:             "text/javascript; charset=utf-8",
}

const docsScriptName = "bay-docs.js"

// docsScript configures Swagger UI on the page: the spec from /openapi.json,
// deep links (#/tag/operation), try-it-out with the Authorize dialog of the
// spec's security schemes (bearerAuth, ownerHeader), nothing fetched from
// elsewhere (no validator badge) and nothing read from the query string.
const docsScript = `"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec"),
    domNode: root,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    queryConfigEnabled: false,
    validatorUrl: null,
    persistAuthorization: false,
    displayOperationId: true,
    displayRequestDuration: true,
    requestSnippetsEnabled: true,
    showCommonExtensions: true,
    filter: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 1,
    defaultModelExpandDepth: 2
  });
})();
`

// docsAssetsMaxAge is how long a browser keeps an asset requested with the
// current version (?v=, which the page adds) or without it.
const (
	docsAssetsMaxAgeVersioned = 365 * 24 * time.Hour
	docsAssetsMaxAge          = time.Hour
)

// docs holds /openapi.json, the /docs page and the version of its assets,
// made on their first request: decoding the spec and hashing the assets
// cost milliseconds and memory that start-up should not pay.
type docs struct {
	once    sync.Once
	json    []byte
	html    []byte
	version string // of the assets: a hash of their contents
	err     error
}

func (d *docs) load() *docs {
	d.once.Do(func() {
		r := renderDocs()
		d.json, d.html, d.version, d.err = r.json, r.html, r.version, r.err
	})
	return d
}

// docsView is what docs.html.tmpl shows.
type docsView struct {
	Title, Version string
	// Spec is the URL of the OpenAPI document, Assets the prefix of the
	// assets' and V their version.
	Spec, Assets, V string
}

func renderDocs() *docs {
	raw := oapigen.Spec()
	var spec struct {
		Info struct {
			Title   string `json:"title"`
			Version string `json:"version"`
		} `json:"info"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		return &docs{err: fmt.Errorf("decode embedded spec: %w", err)}
	}
	d := &docs{json: raw}
	var err error
	if d.version, err = docsAssetsVersion(); err != nil {
		return &docs{err: err}
	}
	var buf bytes.Buffer
	view := docsView{Spec: "/openapi.json", Assets: "/docs/", V: d.version, Title: spec.Info.Title, Version: spec.Info.Version}
	tmpl, err := docsTemplate()
	if err != nil {
		return &docs{err: fmt.Errorf("parse docs template: %w", err)}
	}
	if err := tmpl.Execute(&buf, view); err != nil {
		return &docs{err: fmt.Errorf("render docs: %w", err)}
	}
	d.html = buf.Bytes()
	return d
}

// docsAssetsVersion hashes every asset, so that a Bay with other assets
// links them under another ?v= and browsers do not mix the two.
func docsAssetsVersion() (string, error) {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(docsAssets)) {
		f, err := openDocsAsset(name)
		if err != nil {
			return "", fmt.Errorf("docs asset %s: %w", name, err)
		}
		_, _ = io.WriteString(h, name+"\x00")
		_, err = io.Copy(h, f)
		_ = f.Close()
		if err != nil {
			return "", fmt.Errorf("docs asset %s: %w", name, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// docsFile is an asset as http.ServeContent reads it.
type docsFile interface {
	io.ReadSeeker
	io.Closer
}

func openDocsAsset(name string) (docsFile, error) {
	if name == docsScriptName {
		return nopCloser{strings.NewReader(docsScript)}, nil
	}
	f, err := swaggerFiles.FS.Open(name)
	if err != nil {
		return nil, err
	}
	rs, ok := f.(docsFile)
	if !ok {
		_ = f.Close()
		return nil, fmt.Errorf("embedded file %s cannot seek", name)
	}
	return rs, nil
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	if s.docs.load().err != nil {
		s.writeError(w, r, s.docs.err)
		return
	}
	writeJSON(w, http.StatusOK, s.docs.json)
}

// serveDocs serves the API explorer: Swagger UI on /openapi.json.
func (s *Server) serveDocs(w http.ResponseWriter, r *http.Request) {
	if s.docs.load().err != nil {
		s.writeError(w, r, s.docs.err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", docsCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.docs.html)
}

// serveDocsAsset serves the files under /docs/; /docs/ itself redirects to
// the page.
func (s *Server) serveDocsAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if name == "" {
		http.Redirect(w, r, "/docs", http.StatusMovedPermanently)
		return
	}
	contentType, ok := docsAssets[name]
	if !ok {
		s.writeEnvelope(w, r, http.StatusNotFound, core.Errorf(core.CodeNotFound, "Not Found"), "Not Found")
		return
	}
	if s.docs.load().err != nil {
		s.writeError(w, r, s.docs.err)
		return
	}
	f, err := openDocsAsset(name)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("docs asset %s: %w", name, err))
		return
	}
	defer f.Close()
	maxAge := docsAssetsMaxAge
	cache := "public, max-age=%d"
	if r.URL.Query().Get("v") == s.docs.version {
		maxAge, cache = docsAssetsMaxAgeVersioned, "public, max-age=%d, immutable"
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", docsAssetCSP)
	h.Set("Cache-Control", fmt.Sprintf(cache, int(maxAge.Seconds())))
	h.Set("ETag", `"`+s.docs.version+`"`)
	// The zero modification time leaves validation to the ETag.
	http.ServeContent(w, r, name, time.Time{}, f)
}
