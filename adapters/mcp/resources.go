package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"path"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bayhq/bay/core"
)

// Resource templates (agent-reach.md §4.5); {+path} keeps slashes.
const (
	templateSandboxFile = "bay://sandboxes/{sandbox_id}/files/{+path}"
	templateLockerFile  = "bay://lockers/{locker_id}/files/{+path}"
	templateExecution   = "bay://sandboxes/{sandbox_id}/executions/{execution_id}"
)

// private marks a result as the caller's own, stale at once.
var private = sdk.Cacheable{CacheScope: "private"}

// resourceListLimit is how many sandboxes resources/list names.
const resourceListLimit = 200

// JSON-RPC error codes of resource reads: -32002 is the MCP SDKs'
// long-standing "resource not found"; a request refused for what it asks
// (a bad id or path, a file over the size limit) is invalid params.
const (
	codeResourceNotFound int64 = -32002
	codeInvalidParams    int64 = -32602
	codeInternalError    int64 = -32603
)

func (s *Server) registerResources() {
	for _, t := range []*sdk.ResourceTemplate{
		{URITemplate: templateSandboxFile, Name: "sandbox-file",
			Description: "A file of a sandbox's workspace: text if it is UTF-8, else base64; a path ending in / lists the directory."},
		{URITemplate: templateLockerFile, Name: "locker-file",
			Description: "A text file of a locker, read straight from its volume without starting a sandbox."},
		{URITemplate: templateExecution, Name: "execution", MIMEType: "application/json",
			Description: "An execution's whole record as JSON: code, output, error, images, annotations."},
	} {
		s.srv.AddResourceTemplate(t, s.readResource)
	}
	// resources/list names the caller's sandboxes, and reading one
	// (bay://sandboxes/{id}, not a template) returns it: both depend on
	// who asks, so they are answered before the SDK's static tables.
	s.srv.AddReceivingMiddleware(func(next sdk.MethodHandler) sdk.MethodHandler {
		return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
			switch method {
			case "resources/list":
				return s.listResources(ctx, req)
			case "resources/read":
				if p, ok := req.GetParams().(*sdk.ReadResourceParams); ok && isSandboxURI(p.URI) {
					return s.readResource(ctx, &sdk.ReadResourceRequest{Params: p, Extra: req.GetExtra()})
				}
			}
			return next(ctx, method, req)
		}
	})
}

// isSandboxURI reports whether uri is bay://sandboxes/{id} alone.
func isSandboxURI(uri string) bool {
	rest, ok := strings.CutPrefix(uri, "bay://sandboxes/")
	return ok && rest != "" && !strings.Contains(rest, "/")
}

// listResources answers resources/list: the caller's first 200 sandboxes.
func (s *Server) listResources(ctx context.Context, req sdk.Request) (sdk.Result, error) {
	c, err := s.callerOf(req.GetExtra())
	if err == nil {
		err = c.need(ScopeSandboxes)
	}
	if err != nil {
		return nil, resourceError("bay://sandboxes", err)
	}
	page, err := s.o.Sandboxes.List(ctx, c.owner, "", resourceListLimit, "")
	if err != nil {
		return nil, resourceError("bay://sandboxes", err)
	}
	out := &sdk.ListResourcesResult{Cacheable: private, Resources: make([]*sdk.Resource, 0, len(page.Items))}
	for _, sb := range page.Items {
		out.Resources = append(out.Resources, &sdk.Resource{
			URI: "bay://sandboxes/" + sb.ID, Name: sb.ID, MIMEType: "application/json",
			Description: fmt.Sprintf("Sandbox %s (profile %s, %s)", sb.ID, sb.Profile, sb.Status),
		})
	}
	return out, nil
}

// readResource reads any of Bay's resources.
func (s *Server) readResource(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
	uri := req.Params.URI
	c, err := s.callerOf(req.Extra)
	if err != nil {
		return nil, resourceError(uri, err)
	}
	contents, err := s.read(ctx, c, uri)
	if err != nil {
		return nil, resourceError(uri, err)
	}
	// What a read returns depends on who asks: no shared caches.
	return &sdk.ReadResourceResult{Cacheable: private, Contents: []*sdk.ResourceContents{contents}}, nil
}

func (s *Server) read(ctx context.Context, c caller, uri string) (*sdk.ResourceContents, error) {
	kind, id, rest, err := parseURI(uri)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "locker":
		if err := c.need(ScopeLockers); err != nil {
			return nil, err
		}
		return s.readLockerFile(ctx, c, uri, id, rest)
	case "sandbox":
		if err := c.need(ScopeSandboxes); err != nil {
			return nil, err
		}
		if err := CheckSandboxID("sandbox_id", id); err != nil {
			return nil, err
		}
		switch {
		case rest == "":
			info, err := s.o.Sandboxes.Get(ctx, c.owner, id)
			if err != nil {
				return nil, err
			}
			return s.jsonContents(uri, toSandbox(info))
		case strings.HasPrefix(rest, "files/"):
			return s.readSandboxFile(ctx, c, uri, id, strings.TrimPrefix(rest, "files/"))
		case strings.HasPrefix(rest, "executions/"):
			execID := strings.TrimPrefix(rest, "executions/")
			if err := CheckExecutionID("execution_id", execID); err != nil {
				return nil, err
			}
			e, err := s.o.Executions.Get(ctx, c.owner, id, execID, 0)
			if err != nil {
				return nil, err
			}
			return s.jsonContents(uri, toExecution(e, true))
		}
	}
	return nil, core.NotFound("Resource not found: %s", uri)
}

// parseURI splits bay://sandboxes/{id}[/rest] and bay://lockers/{id}/rest.
// The path part is percent-decoded.
func parseURI(uri string) (kind, id, rest string, err error) {
	var tail string
	switch {
	case strings.HasPrefix(uri, "bay://sandboxes/"):
		kind, tail = "sandbox", strings.TrimPrefix(uri, "bay://sandboxes/")
	case strings.HasPrefix(uri, "bay://lockers/"):
		kind, tail = "locker", strings.TrimPrefix(uri, "bay://lockers/")
	default:
		return "", "", "", core.NotFound("Resource not found: %s", uri)
	}
	id, rest, _ = strings.Cut(tail, "/")
	if rest, err = url.PathUnescape(rest); err != nil {
		return "", "", "", core.Invalid("The resource URI is not validly escaped: %s", uri)
	}
	return kind, id, rest, nil
}

// readSandboxFile reads a file of a sandbox's workspace: text if valid
// UTF-8, else a blob; a path ending in "/" (or empty) lists the
// directory. It is a filesystem call like the tools'.
func (s *Server) readSandboxFile(ctx context.Context, c caller, uri, id, p string) (*sdk.ResourceContents, error) {
	if p == "" || strings.HasSuffix(p, "/") {
		dir := strings.TrimSuffix(p, "/")
		if dir == "" {
			dir = "."
		}
		entries, err := s.o.Sandboxes.ListDir(ctx, c.owner, id, dir)
		if err != nil {
			return nil, err
		}
		return s.jsonContents(uri, toListing(entries))
	}
	b, err := s.download(ctx, c.owner, id, p, s.o.MaxResourceBytes)
	if err != nil {
		return nil, err
	}
	out := &sdk.ResourceContents{URI: uri, MIMEType: mimeType(p)}
	if validUTF8(b) {
		out.Text = string(b)
	} else {
		out.Blob = b
	}
	return out, nil
}

// readLockerFile reads a text file straight from a locker's volume.
func (s *Server) readLockerFile(ctx context.Context, c caller, uri, id, p string) (*sdk.ResourceContents, error) {
	if err := checkID("locker_id", id, lockerIDPattern, "locker-<12 lowercase hex digits>"); err != nil {
		return nil, err
	}
	if s.o.Lockers == nil {
		return nil, core.NotFound("Locker not found: %s", id)
	}
	if !strings.HasPrefix(p, "files/") {
		return nil, core.NotFound("Resource not found: %s", uri)
	}
	p = strings.TrimPrefix(p, "files/")
	text, err := s.o.Lockers.ReadFile(ctx, c.owner, id, p)
	if err != nil {
		return nil, err
	}
	if n := int64(len(text)); n > s.o.MaxResourceBytes {
		return nil, tooLarge(n, s.o.MaxResourceBytes)
	}
	return &sdk.ResourceContents{URI: uri, MIMEType: mimeType(p), Text: text}, nil
}

// jsonContents is a JSON document as a resource, within the size limit.
func (s *Server) jsonContents(uri string, v any) (*sdk.ResourceContents, error) {
	b, err := marshalJSON(v)
	if err != nil {
		return nil, err
	}
	if n := int64(len(b)); n > s.o.MaxResourceBytes {
		return nil, tooLarge(n, s.o.MaxResourceBytes)
	}
	return &sdk.ResourceContents{URI: uri, MIMEType: "application/json", Text: string(b)}, nil
}

// resourceError maps a failure of a resource read to a JSON-RPC error:
// not found (-32002) for a missing sandbox, execution, locker or file;
// invalid params (-32602) for what the request asked wrong, the size limit
// included; internal error otherwise. The data carries Bay's error.
func resourceError(uri string, err error) error {
	ce := bayError(err)
	code := codeInternalError
	switch ce.Code {
	case core.CodeNotFound, core.CodeFileNotFound:
		return &jsonrpc.Error{Code: codeResourceNotFound, Message: "Resource not found",
			Data: json.RawMessage(fmt.Sprintf(`{"uri":%q}`, uri))}
	case core.CodeValidation, core.CodeInvalidPath, core.CodePayloadTooLarge, core.CodeCapabilityNotSupported:
		code = codeInvalidParams
	}
	data, _ := json.Marshal(map[string]any{"uri": uri, "error": map[string]any{
		"code": ce.Code, "message": ce.Message, "details": ce.Details,
	}})
	return &jsonrpc.Error{Code: code, Message: fmt.Sprintf("bay error [%s] %s", ce.Code, ce.Message), Data: data}
}

// textTypes are the MIME types of common text files the system's table
// may lack.
var textTypes = map[string]string{
	".txt": "text/plain", ".log": "text/plain", ".md": "text/markdown", ".csv": "text/csv", ".tsv": "text/tab-separated-values",
	".py": "text/x-python", ".sh": "text/x-shellscript", ".json": "application/json", ".yaml": "application/yaml",
	".yml": "application/yaml", ".toml": "application/toml", ".xml": "application/xml", ".html": "text/html",
	".htm": "text/html", ".css": "text/css", ".js": "text/javascript", ".ipynb": "application/x-ipynb+json",
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".svg": "image/svg+xml",
	".webp": "image/webp", ".pdf": "application/pdf", ".zip": "application/zip", ".gz": "application/gzip",
	".tar": "application/x-tar", ".parquet": "application/vnd.apache.parquet",
}

// mimeType is a file's MIME type from its extension, else
// application/octet-stream.
func mimeType(p string) string {
	ext := strings.ToLower(path.Ext(p))
	if t, ok := textTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" && ext != "" {
		return t
	}
	return "application/octet-stream"
}
