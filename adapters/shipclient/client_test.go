package shipclient_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bayhq/bay/adapters/shipclient"
	"github.com/bayhq/bay/core"
)

// These tests pin the error mapping of bay-api.md Appendix A against a
// scripted HTTP server; the real Ship is exercised end to end in test/.

// testToken is the runtime token of every scripted server.
const testToken = "0123456789abcdef"

// server starts h behind the token check Ship makes: a request without
// "Authorization: Bearer testToken" gets 401, so every test also proves
// that the client sends the token.
func server(t *testing.T, h http.HandlerFunc) core.Endpoint {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" && r.Header.Get("Authorization") != "Bearer "+testToken {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"detail":"missing or invalid runtime token"}`))
			return
		}
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return core.Endpoint{URL: s.URL, Token: testToken}
}

func TestClient_RuntimeToken(t *testing.T) {
	t.Parallel()
	c := shipclient.New()
	ctx := context.Background()
	meta := `{"runtime":{"name":"ship","auth":"bearer"},"capabilities":{"shell":{},"python":{}}}`
	ep := server(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(meta)) })

	caps, err := c.Capabilities(ctx, ep)
	require.NoError(t, err)
	require.Equal(t, []string{"python", "shell"}, caps)

	wrong := ep
	wrong.Token = "not-the-token"
	_, err = c.Capabilities(ctx, wrong)
	require.Equal(t, core.CodeShipError, core.CodeOf(err))
	require.EqualValues(t, 401, core.AsError(err).Details["status"])

	require.NoError(t, c.Health(ctx, ep.URL), "/health needs no token")

	meta = `{"runtime":{"name":"ship"},"capabilities":{"shell":{}}}`
	_, err = c.Capabilities(ctx, ep)
	require.Equal(t, core.CodeInternal, core.CodeOf(err), "a runtime that does not check tokens is refused")
	require.Contains(t, core.AsError(err).Message, "runtime image too old")
}

func TestClient_ErrorMapping(t *testing.T) {
	t.Parallel()
	c := shipclient.New()
	ctx := context.Background()

	ep := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fs/read_file":
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`{"detail":"File not found: x"}`))
		case "/fs/download":
			w.WriteHeader(404)
		case "/fs/list_dir":
			_, _ = w.Write([]byte(`not json`))
		case "/ipython/exec":
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		}
	})
	_, err := c.ReadFile(ctx, ep, "x")
	require.Equal(t, core.CodeShipError, core.CodeOf(err))
	require.Equal(t, "Ship request failed: 404", core.AsError(err).Message)
	require.Equal(t, "File not found: x", core.AsError(err).Details["detail"])

	_, err = c.Download(ctx, ep, "a/b.bin")
	require.Equal(t, core.CodeFileNotFound, core.CodeOf(err))
	require.Equal(t, "File not found: a/b.bin", core.AsError(err).Message)

	_, err = c.ListDir(ctx, ep, ".")
	require.Equal(t, core.CodeShipError, core.CodeOf(err), "an unusable 2xx body is ship_error")

	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = c.Python(tctx, ep, "1", 1)
	require.Equal(t, core.CodeTimeout, core.CodeOf(err), "a call past its deadline is timeout: %v", err)

	// A refused connection is marked unreachable: safe to retry elsewhere.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := core.Endpoint{URL: "http://" + ln.Addr().String(), Token: testToken}
	ln.Close()
	_, err = c.ReadFile(ctx, dead, "x")
	require.Equal(t, core.CodeShipError, core.CodeOf(err))
	var unreachable *core.ErrUnreachable
	require.True(t, errors.As(err, &unreachable))
}

func TestClient_ShellMapping(t *testing.T) {
	t.Parallel()
	ep := server(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"success":false,"return_code":127,"stdout":" out \n","stderr":"bash: foo: command not found","pid":1,"process_id":null,"error":null}`))
	})
	res, err := shipclient.New().Shell(context.Background(), ep, core.ShellInput{Command: "foo", Timeout: 5})
	require.NoError(t, err)
	require.False(t, res.Success)
	require.EqualValues(t, 127, *res.ExitCode)
	require.Equal(t, " out \n", res.Output)
	require.Equal(t, "bash: foo: command not found", *res.Error, "stderr becomes error when Ship's error is empty")
}

func TestClient_UploadStreamsFilePathFirst(t *testing.T) {
	t.Parallel()
	var got []byte
	var order []string
	ep := server(t, func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		require.NoError(t, err)
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			order = append(order, p.FormName())
			b, _ := io.ReadAll(p)
			if p.FormName() == "file" {
				got = b
			}
		}
		_, _ = w.Write([]byte(`{"success":true,"message":"ok","file_path":"/workspace/x","size":` + itoa(len(got)) + `,"error":null}`))
	})
	body := bytes.Repeat([]byte{0, 1, 2, 255}, 1<<18)
	n, err := shipclient.New().Upload(context.Background(), ep, "x", bytes.NewReader(body))
	require.NoError(t, err)
	require.EqualValues(t, len(body), n)
	require.Equal(t, body, got)
	require.Equal(t, []string{"file_path", "file"}, order)
}

func itoa(n int) string { return strconv.Itoa(n) }
