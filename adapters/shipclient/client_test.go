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

func server(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
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
	dead := "http://" + ln.Addr().String()
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
