package httpapi

import (
	"net/http"
)

// The handlers answer with these types instead of the generated typed
// responses: jsonReply writes bytes that were encoded once (without HTML
// escaping, and replayable byte for byte by Idempotency), emptyReply is a
// 204. The generated responses would also overwrite X-Request-Id with the
// declared (empty) header value.

// jsonReply is a JSON success response.
type jsonReply struct {
	status int
	body   []byte
}

func newReply(status int, v any) (jsonReply, error) {
	b, err := marshal(v)
	if err != nil {
		return jsonReply{}, err
	}
	return jsonReply{status: status, body: b}, nil
}

func (r jsonReply) visit(w http.ResponseWriter) error {
	writeJSON(w, r.status, r.body)
	return nil
}

func (r jsonReply) VisitGetHealthResponse(w http.ResponseWriter) error        { return r.visit(w) }
func (r jsonReply) VisitGetReadyResponse(w http.ResponseWriter) error         { return r.visit(w) }
func (r jsonReply) VisitListProfilesResponse(w http.ResponseWriter) error     { return r.visit(w) }
func (r jsonReply) VisitCreateSandboxResponse(w http.ResponseWriter) error    { return r.visit(w) }
func (r jsonReply) VisitListSandboxesResponse(w http.ResponseWriter) error    { return r.visit(w) }
func (r jsonReply) VisitGetSandboxResponse(w http.ResponseWriter) error       { return r.visit(w) }
func (r jsonReply) VisitExtendSandboxTTLResponse(w http.ResponseWriter) error { return r.visit(w) }
func (r jsonReply) VisitKeepaliveSandboxResponse(w http.ResponseWriter) error { return r.visit(w) }
func (r jsonReply) VisitStopSandboxResponse(w http.ResponseWriter) error      { return r.visit(w) }
func (r jsonReply) VisitExecPythonResponse(w http.ResponseWriter) error       { return r.visit(w) }
func (r jsonReply) VisitExecShellResponse(w http.ResponseWriter) error        { return r.visit(w) }
func (r jsonReply) VisitReadFileResponse(w http.ResponseWriter) error         { return r.visit(w) }
func (r jsonReply) VisitWriteFileResponse(w http.ResponseWriter) error        { return r.visit(w) }
func (r jsonReply) VisitDeleteFileResponse(w http.ResponseWriter) error       { return r.visit(w) }
func (r jsonReply) VisitListDirectoryResponse(w http.ResponseWriter) error    { return r.visit(w) }
func (r jsonReply) VisitUploadFileResponse(w http.ResponseWriter) error       { return r.visit(w) }
func (r jsonReply) VisitCreateLockerResponse(w http.ResponseWriter) error     { return r.visit(w) }
func (r jsonReply) VisitListLockersResponse(w http.ResponseWriter) error      { return r.visit(w) }
func (r jsonReply) VisitGetLockerResponse(w http.ResponseWriter) error        { return r.visit(w) }
func (r jsonReply) VisitReadLockerFileResponse(w http.ResponseWriter) error   { return r.visit(w) }
func (r jsonReply) VisitWriteLockerFileResponse(w http.ResponseWriter) error  { return r.visit(w) }
func (r jsonReply) VisitRunGCResponse(w http.ResponseWriter) error            { return r.visit(w) }
func (r jsonReply) VisitGetGCStatusResponse(w http.ResponseWriter) error      { return r.visit(w) }

func (r jsonReply) VisitListExecutionsResponse(w http.ResponseWriter) error    { return r.visit(w) }
func (r jsonReply) VisitGetLastExecutionResponse(w http.ResponseWriter) error  { return r.visit(w) }
func (r jsonReply) VisitGetExecutionResponse(w http.ResponseWriter) error      { return r.visit(w) }
func (r jsonReply) VisitAnnotateExecutionResponse(w http.ResponseWriter) error { return r.visit(w) }
func (r jsonReply) VisitCancelExecutionResponse(w http.ResponseWriter) error   { return r.visit(w) }
func (r jsonReply) VisitGetSandboxCapabilitiesResponse(w http.ResponseWriter) error {
	return r.visit(w)
}
func (r jsonReply) VisitListHistoryResponse(w http.ResponseWriter) error          { return r.visit(w) }
func (r jsonReply) VisitGetLastHistoryEntryResponse(w http.ResponseWriter) error  { return r.visit(w) }
func (r jsonReply) VisitGetHistoryEntryResponse(w http.ResponseWriter) error      { return r.visit(w) }
func (r jsonReply) VisitAnnotateHistoryEntryResponse(w http.ResponseWriter) error { return r.visit(w) }
func (r asyncReply) VisitExecPythonAsyncResponse(w http.ResponseWriter) error     { return r.visit(w) }
func (r asyncReply) VisitExecShellAsyncResponse(w http.ResponseWriter) error      { return r.visit(w) }
func (r streamReply) VisitExecPythonStreamResponse(w http.ResponseWriter) error   { return r.visit(w) }
func (r streamReply) VisitExecShellStreamResponse(w http.ResponseWriter) error    { return r.visit(w) }

func (r jsonReply) VisitExecBrowserResponse(w http.ResponseWriter) error      { return r.visit(w) }
func (r jsonReply) VisitExecBrowserBatchResponse(w http.ResponseWriter) error { return r.visit(w) }

// emptyReply is 204 No Content.
type emptyReply struct{}

func (emptyReply) visit(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r emptyReply) VisitDeleteSandboxResponse(w http.ResponseWriter) error { return r.visit(w) }
func (r emptyReply) VisitDeleteLockerResponse(w http.ResponseWriter) error  { return r.visit(w) }
