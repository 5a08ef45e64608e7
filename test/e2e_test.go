package test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
)

var bg = context.Background()

func createSandbox(t *testing.T, b *bay, body oapigen.CreateSandboxRequest) oapigen.Sandbox {
	t.Helper()
	resp, err := b.C.CreateSandboxWithResponse(bg, nil, body)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode(), "body: %s", resp.Body)
	return *resp.JSON201
}

func python(t *testing.T, b *bay, id, code string) oapigen.PythonExecResult {
	t.Helper()
	resp, err := b.C.ExecPythonWithResponse(bg, id, oapigen.PythonExecRequest{Code: code, Timeout: ptr(60)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode(), "body: %s", resp.Body)
	return *resp.JSON200
}

func shell(t *testing.T, b *bay, id, command string, cwd *string) oapigen.ShellExecResult {
	t.Helper()
	resp, err := b.C.ExecShellWithResponse(bg, id, oapigen.ShellExecRequest{Command: command, Cwd: cwd, Timeout: ptr(60)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode(), "body: %s", resp.Body)
	return *resp.JSON200
}

func upload(t *testing.T, b *bay, id, path string, content []byte) (int, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	require.NoError(t, mw.WriteField("path", path))
	fw, err := mw.CreateFormFile("file", "ignored-name.bin")
	require.NoError(t, err)
	_, err = fw.Write(content)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	resp, err := b.C.UploadFileWithBodyWithResponse(bg, id, mw.FormDataContentType(), &buf)
	require.NoError(t, err)
	return resp.StatusCode(), resp.Body
}

func download(t *testing.T, b *bay, id, path string) (*http.Response, []byte) {
	t.Helper()
	resp, err := b.C.DownloadFile(bg, id, &oapigen.DownloadFileParams{Path: path})
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, data
}

// TestE2E_AgentDay is an agent's working day through the API, on each
// database: files, shell, Python state, imports, binary transfers, stop and
// resume, delete.
func TestE2E_AgentDay(t *testing.T) {
	requireImages(t, "ship:latest")
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			b := startBay(t, bayOpts{engine: engine})
			sb := createSandbox(t, b, oapigen.CreateSandboxRequest{})
			require.Equal(t, oapigen.SandboxStatus("idle"), sb.Status)
			require.Nil(t, sb.IdleExpiresAt)

			// Write a module through the filesystem API, run it with the
			// shell, import it from Python.
			script := "def double(x):\n    return 2 * x\n\nif __name__ == '__main__':\n    print(double(21))\n"
			wr, err := b.C.WriteFileWithResponse(bg, sb.Id, oapigen.WriteFileRequest{Path: "lib/util.py", Content: script})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, wr.StatusCode(), "body: %s", wr.Body)
			sh := shell(t, b, sb.Id, "python3 lib/util.py", nil)
			require.True(t, sh.Success)
			require.Equal(t, "42", sh.Output)
			py := python(t, b, sb.Id, "import sys\nsys.path.insert(0, 'lib')\nimport util\nprint(util.double(4))")
			require.True(t, py.Success, "error: %v", py.Error)
			require.Equal(t, "8", py.Output)

			// State persists across calls; errors come back as results.
			python(t, b, sb.Id, "x = 42")
			require.Equal(t, "84", python(t, b, sb.Id, "print(x * 2)").Output)
			bad := python(t, b, sb.Id, "1/0")
			require.False(t, bad.Success)
			require.Contains(t, *bad.Error, "ZeroDivisionError")

			// The sandbox user, the workspace, exit codes.
			require.Equal(t, "/workspace", shell(t, b, sb.Id, "pwd", nil).Output)
			require.Equal(t, "shipyard", shell(t, b, sb.Id, "whoami", nil).Output)
			require.Equal(t, "/workspace/lib", shell(t, b, sb.Id, "pwd", ptr("lib")).Output)
			ex := shell(t, b, sb.Id, "exit 42", nil)
			require.False(t, ex.Success)
			require.EqualValues(t, 42, *ex.ExitCode)

			// Text read back exactly; directory listing.
			text := "Hello from E2E test!\nLine 2\nLine 3"
			_, err = b.C.WriteFileWithResponse(bg, sb.Id, oapigen.WriteFileRequest{Path: "notes/a.txt", Content: text})
			require.NoError(t, err)
			rd, err := b.C.ReadFileWithResponse(bg, sb.Id, &oapigen.ReadFileParams{Path: "notes/a.txt"})
			require.NoError(t, err)
			require.Equal(t, text, rd.JSON200.Content)
			ls, err := b.C.ListDirectoryWithResponse(bg, sb.Id, &oapigen.ListDirectoryParams{})
			require.NoError(t, err)
			var names []string
			for _, e := range ls.JSON200.Entries {
				names = append(names, e.Name)
			}
			require.Equal(t, []string{"lib", "notes"}, names)

			// Binary upload and download, byte-exact.
			blob := make([]byte, 256*4096)
			for i := range blob {
				blob[i] = byte(i)
			}
			st, body := upload(t, b, sb.Id, "data/./deep/../blob.bin", blob)
			require.Equal(t, http.StatusOK, st, "body: %s", body)
			require.JSONEq(t, fmt.Sprintf(`{"status":"ok","path":"data/blob.bin","size":%d}`, len(blob)), string(body))
			resp, got := download(t, b, sb.Id, "data/blob.bin")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
			require.Contains(t, resp.Header.Get("Content-Disposition"), `filename="blob.bin"`)
			require.True(t, bytes.Equal(blob, got), "downloaded bytes differ")
			require.Equal(t, fmt.Sprint(len(blob)), shell(t, b, sb.Id, "stat -c %s data/blob.bin", nil).Output)

			// Delete, then the download is a 404.
			del, err := b.C.DeleteFileWithResponse(bg, sb.Id, &oapigen.DeleteFileParams{Path: "data/blob.bin"})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, del.StatusCode())
			resp, got = download(t, b, sb.Id, "data/blob.bin")
			envelope(t, resp.StatusCode, resp.Header, got, http.StatusNotFound, "file_not_found")

			ready, err := b.C.GetSandboxWithResponse(bg, sb.Id)
			require.NoError(t, err)
			require.Equal(t, oapigen.SandboxStatus("ready"), ready.JSON200.Status)
			require.NotNil(t, ready.JSON200.IdleExpiresAt)
			require.Len(t, containersOf(t, sb.Id), 1)

			// Stop: files persist, the next call transparently starts a new
			// session whose interpreter does not know x.
			stop, err := b.C.StopSandboxWithResponse(bg, sb.Id)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, stop.StatusCode())
			got2, err := b.C.GetSandboxWithResponse(bg, sb.Id)
			require.NoError(t, err)
			require.Equal(t, oapigen.SandboxStatus("idle"), got2.JSON200.Status)
			require.Equal(t, "user", string(*got2.JSON200.StopReason))
			require.Empty(t, containersOf(t, sb.Id))
			rd, err = b.C.ReadFileWithResponse(bg, sb.Id, &oapigen.ReadFileParams{Path: "notes/a.txt"})
			require.NoError(t, err)
			require.Equal(t, text, rd.JSON200.Content)
			gone := python(t, b, sb.Id, "print(x)")
			require.False(t, gone.Success)
			require.Contains(t, *gone.Error, "NameError")

			// Delete: container and managed volume gone, then 404.
			dl, err := b.C.DeleteSandboxWithResponse(bg, sb.Id)
			require.NoError(t, err)
			require.Equal(t, http.StatusNoContent, dl.StatusCode())
			require.Empty(t, containersOf(t, sb.Id))
			require.False(t, volumeExists("bay-"+*sb.LockerId), "the managed volume is removed")
			st, hdr, raw := b.raw("GET", "/v1/sandboxes/"+sb.Id, nil)
			envelope(t, st, hdr, raw, http.StatusNotFound, "not_found")
			st, hdr, raw = b.raw("DELETE", "/v1/sandboxes/"+sb.Id, nil)
			envelope(t, st, hdr, raw, http.StatusNotFound, "not_found")
		})
	}
}

// TestE2E_PlotComesBackAsPNG runs matplotlib in the data image.
func TestE2E_PlotComesBackAsPNG(t *testing.T) {
	requireImages(t, "ship:data")
	t.Parallel()
	b := startBay(t, bayOpts{engine: "sqlite"})
	sb := createSandbox(t, b, oapigen.CreateSandboxRequest{Profile: ptr("python-data")})
	res := python(t, b, sb.Id, "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.savefig('plot.png')\nplt.show()")
	require.True(t, res.Success, "error: %v", res.Error)
	images, ok := res.Data.Output["images"].([]any)
	require.True(t, ok, "output: %v", res.Data.Output)
	require.NotEmpty(t, images)
	png, err := base64.StdEncoding.DecodeString(images[0].(map[string]any)["image/png"].(string))
	require.NoError(t, err)
	require.Equal(t, []byte("\x89PNG\r\n\x1a\n"), png[:8])
	resp, saved := download(t, b, sb.Id, "plot.png")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, []byte("\x89PNG\r\n\x1a\n"), saved[:8])
}

// TestE2E_TTLExpiry: an expired sandbox refuses work and extension.
func TestE2E_TTLExpiry(t *testing.T) {
	requireImages(t, "ship:latest")
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			b := startBay(t, bayOpts{engine: engine})
			sb := createSandbox(t, b, oapigen.CreateSandboxRequest{Ttl: ptr(int64(1))})
			require.NotNil(t, sb.ExpiresAt)
			time.Sleep(1200 * time.Millisecond)
			got, err := b.C.GetSandboxWithResponse(bg, sb.Id)
			require.NoError(t, err)
			require.Equal(t, oapigen.SandboxStatus("expired"), got.JSON200.Status)
			st, hdr, body := b.raw("POST", "/v1/sandboxes/"+sb.Id+"/python/exec", strings.NewReader(`{"code":"1"}`), "Content-Type", "application/json")
			d := envelope(t, st, hdr, body, http.StatusConflict, "sandbox_expired")
			require.Equal(t, sb.Id, d["sandbox_id"])
			st, hdr, body = b.raw("POST", "/v1/sandboxes/"+sb.Id+"/extend_ttl", strings.NewReader(`{"extend_by":60}`), "Content-Type", "application/json")
			envelope(t, st, hdr, body, http.StatusConflict, "sandbox_expired")
			require.Empty(t, containersOf(t, sb.Id), "nothing was started")
			// Keepalive and stop still work on an expired sandbox.
			st, _, _ = b.raw("POST", "/v1/sandboxes/"+sb.Id+"/keepalive", nil)
			require.Equal(t, http.StatusOK, st)
			st, _, _ = b.raw("POST", "/v1/sandboxes/"+sb.Id+"/stop", nil)
			require.Equal(t, http.StatusOK, st)
		})
	}
}

// TestE2E_ConcurrentFirstCallsAcrossProcesses: two Bay processes on one
// database, 20 concurrent first calls each, one container, 40 successes.
func TestE2E_ConcurrentFirstCallsAcrossProcesses(t *testing.T) {
	requireImages(t, "ship:latest")
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			a := startBay(t, bayOpts{engine: engine})
			b2 := startBay(t, bayOpts{engine: engine, db: a.DB})
			b2.Owner = a.Owner
			sb := createSandbox(t, a, oapigen.CreateSandboxRequest{})

			const perProcess = 20
			var wg sync.WaitGroup
			errs := make(chan string, 2*perProcess)
			for i := range 2 * perProcess {
				p := a
				if i%2 == 1 {
					p = b2
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := p.C.ExecPythonWithResponse(bg, sb.Id, oapigen.PythonExecRequest{Code: "print(1+2)"})
					switch {
					case err != nil:
						errs <- err.Error()
					case resp.StatusCode() != http.StatusOK:
						errs <- fmt.Sprintf("%d %s", resp.StatusCode(), resp.Body)
					case resp.JSON200.Output != "3":
						errs <- "output " + resp.JSON200.Output
					}
				}()
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
			require.Len(t, containersOf(t, sb.Id), 1, "exactly one container for 40 calls over two processes")
		})
	}
}
