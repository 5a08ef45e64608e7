package containertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestShip_UserModel(t *testing.T) {
	t.Parallel()
	s := start(t, "ship:latest", "")
	out := s.sh(t, "whoami")
	require.Equal(t, "shipyard", out["stdout"])
	out = s.sh(t, "id")
	require.Contains(t, out["stdout"], "uid=1000(shipyard)")
	require.NotContains(t, out["stdout"], "uid=0(root)")
	require.Equal(t, "/workspace", s.sh(t, "echo $HOME")["stdout"])
	require.Equal(t, "/workspace", s.sh(t, "pwd")["stdout"])
	out = s.sh(t, "touch /etc/test_file 2>&1 || echo WRITE_DENIED")
	require.Contains(t, out["stdout"], "WRITE_DENIED")
	require.Contains(t, out["stdout"], "Permission denied")
	require.Contains(t, s.sh(t, "grep shipyard /etc/passwd")["stdout"], "/workspace")
	require.Contains(t, s.sh(t, "ps -o comm= -p 1")["stdout"], "tini")
	out = s.sh(t, "python3 --version && git --version && curl --version | head -1")
	require.Equal(t, true, out["success"], out)
	require.Contains(t, out["stdout"], "Python 3")

	// Files made through /fs belong to the user.
	code, _ := s.post(t, "/fs/write_file", map[string]any{"path": "own/er.txt", "content": "x"})
	require.Equal(t, 200, code)
	require.Equal(t, "1000:1000 1000:1000", s.sh(t, "stat -c %u:%g own own/er.txt | paste -sd' '")["stdout"])
	// Python runs as the user too, in /workspace.
	py := s.py(t, "import os, getpass\nprint(getpass.getuser(), os.getcwd(), os.environ['HOME'])", 60)
	require.Equal(t, "shipyard /workspace /workspace", text(py))
	out = s.sh(t, "ls -A /workspace")
	require.NotContains(t, out["stdout"], ".ipython", "IPython state must stay outside the workspace")
	require.NotContains(t, out["stdout"], ".cache")
}

func TestShip_PythonStateAndErrors(t *testing.T) {
	t.Parallel()
	s := start(t, "ship:latest", "")
	out := s.py(t, "x = 42", 60)
	require.Equal(t, true, out["success"], out)
	out = s.py(t, "print(x * 2)", 30)
	require.Equal(t, "84", text(out))
	out = s.py(t, "1/0", 30)
	require.Equal(t, false, out["success"])
	require.Contains(t, out["error"], "ZeroDivisionError")
	require.NotContains(t, out["error"], "\x1b[")
	out = s.sh(t, "exit 42")
	require.Equal(t, 42.0, out["return_code"])
	out = s.sh(t, "echo hello | grep xyz")
	require.Equal(t, 1.0, out["return_code"])
	out = s.sh(t, "python3 -m venv /workspace/.venv && echo VENV_OK")
	require.Equal(t, "VENV_OK", out["stdout"], out)
}

func TestShip_PythonTimeoutAndCrash(t *testing.T) {
	t.Parallel()
	s := start(t, "ship:latest", "")
	s.py(t, "keep = 'kept'", 60)
	start := time.Now()
	out := s.py(t, "import time\ntime.sleep(60)", 2)
	require.Less(t, time.Since(start), 10*time.Second)
	require.Equal(t, false, out["success"])
	require.Equal(t, "Code execution timed out after 2 seconds", out["error"])
	out = s.py(t, "print(keep)", 30)
	require.Equal(t, "kept", text(out), out)
	require.Equal(t, false, out["kernel_restarted"])

	out = s.py(t, "import os\nos._exit(1)", 30)
	require.Equal(t, false, out["success"])
	out = s.py(t, "print(keep)", 60)
	require.Equal(t, true, out["kernel_restarted"])
	require.Contains(t, out["error"], "NameError")
	out = s.py(t, "print('alive')", 30)
	require.Equal(t, "alive", text(out))
	require.Equal(t, false, out["kernel_restarted"])
}

func TestShip_PathEscapes(t *testing.T) {
	t.Parallel()
	s := start(t, "ship:latest", "")
	require.Equal(t, true, s.sh(t, "ln -s /etc x && ln -s / root && ln -s /etc/newfile dangling")["success"])
	for _, p := range []string{"x/passwd", "root/etc/shadow", "/etc/passwd", "../etc/passwd", "dangling"} {
		code, _ := s.post(t, "/fs/read_file", map[string]any{"path": p})
		require.Equal(t, 403, code, p)
		code, _ = s.post(t, "/fs/write_file", map[string]any{"path": p, "content": "pwned"})
		require.Equal(t, 403, code, p)
	}
	code, _ := s.post(t, "/fs/delete_file", map[string]any{"path": "x"})
	require.Equal(t, 200, code)
	require.Equal(t, true, s.sh(t, "test -f /etc/passwd && test ! -e /etc/newfile && test ! -e x")["success"])
	code, _ = s.post(t, "/fs/delete_file", map[string]any{"path": "."})
	require.Equal(t, 400, code)
}

func TestShip_LargeTransfer(t *testing.T) {
	t.Parallel()
	s := start(t, "ship:latest", "")
	data := make([]byte, 50<<20)
	_, err := rand.Read(data)
	require.NoError(t, err)

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := mw.WriteField("file_path", "big/blob.bin")
		if err == nil {
			var fw io.Writer
			if fw, err = mw.CreateFormFile("file", "blob.bin"); err == nil {
				_, err = io.Copy(fw, bytes.NewReader(data))
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest(http.MethodPost, s.url+"/fs/upload", pr)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp := s.do(t, req)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, string(body))

	resp = s.get(t, "/fs/download?file_path=big/blob.bin")
	require.Equal(t, strconv.Itoa(len(data)), resp.Header.Get("Content-Length"))
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got), "download differs from upload")

	// Peak RSS of the ship process over its whole life, transfers included.
	hwm := s.shipStatus(t, "VmHWM")
	kb, err := strconv.Atoi(strings.Fields(hwm)[0])
	require.NoError(t, err)
	t.Logf("ship VmHWM after 50 MB upload+download: %d kB", kb)
	require.Less(t, kb, 30*1024, "ship must stream, not buffer, transfers")
}

func TestShip_PersistsAcrossContainers(t *testing.T) {
	t.Parallel()
	s := start(t, "ship:latest", "")
	s.py(t, "v = 1\nopen('kept.txt', 'w').write('still here')", 60)
	// A root-owned entry (e.g. from an older image) is handed to the user
	// by the next container's start-up.
	_, err := docker(context.Background(), "exec", s.id, "sh", "-c", "mkdir -p /workspace/r && touch /workspace/r/f")
	require.NoError(t, err)
	s.stop(t)
	s2 := start(t, "ship:latest", s.volume)
	require.Equal(t, "1000 1000", s2.sh(t, "stat -c %u r r/f | paste -sd' '")["stdout"])
	code, out := s2.post(t, "/fs/read_file", map[string]any{"path": "kept.txt"})
	require.Equal(t, 200, code)
	require.Equal(t, "still here", out["content"])
	py := s2.py(t, "print(v)", 60)
	require.Contains(t, py["error"], "NameError")
}

func TestShipData_Plot(t *testing.T) {
	t.Parallel()
	s := start(t, "ship:data", "")
	out := s.py(t, "import matplotlib.pyplot as plt\nimport numpy as np, pandas as pd\n"+
		"plt.plot(np.arange(10))\nplt.show()\nprint(pd.DataFrame({'a': [1, 2]}).a.sum())", 120)
	require.Equal(t, true, out["success"], out)
	require.Equal(t, "3", text(out))
	images := out["output"].(map[string]any)["images"].([]any)
	require.Len(t, images, 1)
	png, err := base64.StdEncoding.DecodeString(images[0].(map[string]any)["image/png"].(string))
	require.NoError(t, err)
	require.Equal(t, []byte("\x89PNG\r\n\x1a\n"), png[:8])
	out = s.sh(t, "ls -A /workspace")
	require.NotContains(t, out["stdout"], ".config")
	require.NotContains(t, out["stdout"], ".cache")
}

func TestFakeRuntime(t *testing.T) {
	t.Parallel()
	s := start(t, "bay-fake-runtime:latest", "")
	resp := s.get(t, "/meta")
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, 200, resp.StatusCode, string(b))
	require.Contains(t, string(b), `"filesystem"`)
	require.Contains(t, string(b), `"auth":"bearer"`)
	requireTokenEnforced(t, s, "/meta", "/fs/read_file")
}

func TestShip_KernelOOMRecovers(t *testing.T) {
	t.Parallel()
	s := start(t, "ship:latest", "")
	s.py(t, "lost = 1", 60)
	// The container has a 1 GiB limit; touching 3 GiB gets the kernel
	// OOM-killed (Ship raises the kernel's oom_score_adj).
	out := s.py(t, "big = b'x' * (3 * 1024**3)", 120)
	require.Equal(t, false, out["success"], out)
	require.Equal(t, "healthy", func() string {
		resp, err := http.Get(s.url + "/health")
		require.NoError(t, err)
		resp.Body.Close()
		return "healthy"
	}())
	out = s.py(t, "print(lost)", 60)
	require.Equal(t, true, out["kernel_restarted"], out)
	require.Contains(t, out["error"], "NameError")
}
