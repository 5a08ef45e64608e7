package server

import (
	"bytes"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestServer_Files(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("WriteReadExact", func(t *testing.T) {
		content := "Hello from E2E test!\r\nLine 2\rLine 3 <&>"
		code, out := b.post(t, "/fs/write_file", map[string]any{"path": "nested/dir/a.txt", "content": content, "mode": "w"})
		require.Equal(t, 200, code, out)
		require.Equal(t, filepath.Join(b.ws, "nested/dir/a.txt"), out["path"])
		require.Equal(t, float64(len(content)), out["size"])
		code, out = b.post(t, "/fs/read_file", map[string]any{"path": "nested/dir/a.txt"})
		require.Equal(t, 200, code)
		require.Equal(t, content, out["content"])
		_, out = b.post(t, "/fs/write_file", map[string]any{"path": "nested/dir/a.txt", "content": "+", "mode": "a"})
		require.Equal(t, float64(len(content)+1), out["size"])
	})
	t.Run("WriteToDirectoryFails", func(t *testing.T) {
		for _, p := range []string{".", "nested"} {
			code, out := b.post(t, "/fs/write_file", map[string]any{"path": p, "content": "x"})
			require.Equal(t, 500, code, out)
			require.Contains(t, out["detail"], "Failed to write file")
		}
	})
	t.Run("ReadOffsetLimit", func(t *testing.T) {
		b.post(t, "/fs/write_file", map[string]any{"path": "lines.txt", "content": "1\n2\n3\n4\n"})
		_, out := b.post(t, "/fs/read_file", map[string]any{"path": "lines.txt", "offset": 2, "limit": 2})
		require.Equal(t, "2\n3\n", out["content"])
		require.Equal(t, 8.0, out["size"])
		_, out = b.post(t, "/fs/read_file", map[string]any{"path": "lines.txt", "offset": 9})
		require.Equal(t, "", out["content"])
	})
	t.Run("ReadErrors", func(t *testing.T) {
		code, _ := b.post(t, "/fs/read_file", map[string]any{"path": "missing.txt"})
		require.Equal(t, 404, code)
		code, _ = b.post(t, "/fs/read_file", map[string]any{"path": "nested"})
		require.Equal(t, 400, code)
		require.NoError(t, os.WriteFile(filepath.Join(b.ws, "bin.dat"), []byte{0xff, 0xfe}, 0o644))
		code, _ = b.post(t, "/fs/read_file", map[string]any{"path": "bin.dat"})
		require.Equal(t, 500, code)
		code, _ = b.post(t, "/fs/read_file", map[string]any{"path": "lines.txt", "encoding": "latin-1"})
		require.Equal(t, 400, code)
		code, _ = b.post(t, "/fs/read_file", map[string]any{"path": "lines.txt", "encoding": "UTF8"})
		require.Equal(t, 200, code)
	})
	t.Run("CreateFileMode", func(t *testing.T) {
		code, out := b.post(t, "/fs/create_file", map[string]any{"path": "x/run.sh", "content": "#!/bin/sh\n", "mode": 0o755})
		require.Equal(t, 200, code, out)
		require.Equal(t, "File created: x/run.sh", out["message"])
		fi, err := os.Stat(filepath.Join(b.ws, "x/run.sh"))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
	})
	t.Run("Edit", func(t *testing.T) {
		b.post(t, "/fs/write_file", map[string]any{"path": "e.txt", "content": "foo bar foo"})
		code, out := b.post(t, "/fs/edit_file", map[string]any{"path": "e.txt", "old_string": "foo", "new_string": "baz"})
		require.Equal(t, 400, code)
		require.Contains(t, out["detail"], "appears 2 times")
		code, out = b.post(t, "/fs/edit_file", map[string]any{"path": "e.txt", "old_string": "foo", "new_string": "baz", "replace_all": true})
		require.Equal(t, 200, code)
		require.Equal(t, 2.0, out["replacements"])
		code, _ = b.post(t, "/fs/edit_file", map[string]any{"path": "e.txt", "old_string": "nope", "new_string": "x"})
		require.Equal(t, 400, code)
		code, _ = b.post(t, "/fs/edit_file", map[string]any{"path": "e.txt", "old_string": "x", "new_string": "x"})
		require.Equal(t, 400, code)
		code, _ = b.post(t, "/fs/edit_file", map[string]any{"path": "nofile.txt", "old_string": "a", "new_string": "b"})
		require.Equal(t, 404, code)
		_, out = b.post(t, "/fs/read_file", map[string]any{"path": "e.txt"})
		require.Equal(t, "baz bar baz", out["content"])
	})
	t.Run("List", func(t *testing.T) {
		dir := filepath.Join(b.ws, "l")
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "Zdir"), 0o755))
		for _, n := range []string{"b.txt", "A.txt", ".hidden"} {
			require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644))
		}
		require.NoError(t, os.Symlink("/nonexistent", filepath.Join(dir, "dangling")))
		_, out := b.post(t, "/fs/list_dir", map[string]any{"path": "l"})
		require.Equal(t, dir, out["current_path"])
		var names []string
		for _, f := range out["files"].([]any) {
			names = append(names, f.(map[string]any)["name"].(string))
		}
		require.Equal(t, []string{"Zdir", "A.txt", "b.txt"}, names)
		first := out["files"].([]any)[0].(map[string]any)
		require.Nil(t, first["size"])
		require.Equal(t, true, first["is_dir"])
		_, out = b.post(t, "/fs/list_dir", map[string]any{"path": "l", "show_hidden": true})
		require.Len(t, out["files"], 4)
		code, out := b.post(t, "/fs/list_dir", map[string]any{})
		require.Equal(t, 200, code)
		require.Equal(t, b.ws, out["current_path"])
		code, _ = b.post(t, "/fs/list_dir", map[string]any{"path": "l/b.txt"})
		require.Equal(t, 400, code)
		code, _ = b.post(t, "/fs/list_dir", map[string]any{"path": "nodir"})
		require.Equal(t, 404, code)
	})
	t.Run("Delete", func(t *testing.T) {
		b.post(t, "/fs/write_file", map[string]any{"path": "d/sub/f.txt", "content": "x"})
		code, out := b.post(t, "/fs/delete_file", map[string]any{"path": "d/sub/f.txt"})
		require.Equal(t, 200, code)
		require.Equal(t, "File deleted: d/sub/f.txt", out["message"])
		code, out = b.post(t, "/fs/delete_file", map[string]any{"path": "d"})
		require.Equal(t, 200, code)
		require.Equal(t, "Directory deleted: d", out["message"])
		code, _ = b.post(t, "/fs/delete_file", map[string]any{"path": "d"})
		require.Equal(t, 404, code)
		for _, root := range []string{".", "", b.ws, "sub/..", b.ws + "/"} {
			code, _ = b.post(t, "/fs/delete_file", map[string]any{"path": root})
			require.Equal(t, 400, code, root)
		}
		require.DirExists(t, b.ws)
	})
	t.Run("DeleteSymlinkKeepsTarget", func(t *testing.T) {
		outside := t.TempDir()
		target := filepath.Join(outside, "keep.txt")
		require.NoError(t, os.WriteFile(target, []byte("keep"), 0o644))
		require.NoError(t, os.Symlink(target, filepath.Join(b.ws, "link-out")))
		require.NoError(t, os.Symlink(outside, filepath.Join(b.ws, "dirlink-out")))
		for _, p := range []string{"link-out", "dirlink-out"} {
			code, out := b.post(t, "/fs/delete_file", map[string]any{"path": p})
			require.Equal(t, 200, code, out)
			_, err := os.Lstat(filepath.Join(b.ws, p))
			require.True(t, os.IsNotExist(err))
		}
		require.FileExists(t, target)
	})
}

func TestServer_PathEscapes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644))
	require.NoError(t, os.Symlink(outside, filepath.Join(b.ws, "x")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "new.txt"), filepath.Join(b.ws, "dangling")))
	require.NoError(t, os.Symlink("../"+filepath.Base(b.ws)+"/../", filepath.Join(b.ws, "rel")))

	escapes := []string{
		"/etc/passwd", "../outside.txt", "a/../../x.txt", "x/secret", "x/new.txt",
		"dangling", "rel/" + filepath.Base(outside) + "/secret", outside + "/secret",
	}
	for _, p := range escapes {
		code, _ := b.post(t, "/fs/read_file", map[string]any{"path": p})
		require.Equal(t, 403, code, "read %s", p)
		code, _ = b.post(t, "/fs/write_file", map[string]any{"path": p, "content": "pwned"})
		require.Equal(t, 403, code, "write %s", p)
		code, _ = b.post(t, "/fs/create_file", map[string]any{"path": p})
		require.Equal(t, 403, code, "create %s", p)
		code, _ = b.post(t, "/fs/edit_file", map[string]any{"path": p, "old_string": "s", "new_string": "t"})
		require.Equal(t, 403, code, "edit %s", p)
		code, _ = b.post(t, "/fs/list_dir", map[string]any{"path": p})
		require.Equal(t, 403, code, "list %s", p)
		resp, _ := b.download(t, url.QueryEscape(p))
		require.Equal(t, 403, resp.StatusCode, "download %s", p)
		code, _ = b.upload(t, p, bytes.NewReader([]byte("pwned")), true)
		require.Equal(t, 403, code, "upload %s", p)
		code, _ = b.upload(t, p, bytes.NewReader([]byte("pwned")), false)
		require.Equal(t, 403, code, "upload (path last) %s", p)
	}
	code, _ := b.post(t, "/fs/delete_file", map[string]any{"path": "x/secret"})
	require.Equal(t, 403, code)
	code, _ = b.post(t, "/fs/delete_file", map[string]any{"path": "../" + filepath.Base(outside)})
	require.Equal(t, 403, code)

	raw, err := os.ReadFile(filepath.Join(outside, "secret"))
	require.NoError(t, err)
	require.Equal(t, "s", string(raw))
	require.NoFileExists(t, filepath.Join(outside, "new.txt"))

	t.Run("NULByte", func(t *testing.T) {
		code, _ := b.post(t, "/fs/read_file", map[string]any{"path": "a\x00b"})
		require.Equal(t, 400, code)
	})
	t.Run("LinkInsideIsFollowed", func(t *testing.T) {
		require.NoError(t, os.MkdirAll(filepath.Join(b.ws, "real"), 0o755))
		require.NoError(t, os.Symlink("real", filepath.Join(b.ws, "alias")))
		code, out := b.post(t, "/fs/write_file", map[string]any{"path": "alias/f.txt", "content": "ok"})
		require.Equal(t, 200, code)
		require.Equal(t, filepath.Join(b.ws, "real/f.txt"), out["path"])
	})
}

func TestServer_UploadDownload(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("AllByteValuesBothPartOrders", func(t *testing.T) {
		all := make([]byte, 256)
		for i := range all {
			all[i] = byte(i)
		}
		for _, first := range []bool{true, false} {
			code, out := b.upload(t, "up/nested/all.bin", bytes.NewReader(all), first)
			require.Equal(t, 200, code, out)
			require.Equal(t, filepath.Join(b.ws, "up/nested/all.bin"), out["file_path"])
			require.Equal(t, 256.0, out["size"])
			require.Nil(t, out["error"])
			resp, got := b.download(t, "up/nested/all.bin")
			require.Equal(t, 200, resp.StatusCode)
			require.Equal(t, all, got)
			require.Equal(t, "256", resp.Header.Get("Content-Length"))
			require.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
			require.Equal(t, `attachment; filename="all.bin"`, resp.Header.Get("Content-Disposition"))
		}
		entries, err := os.ReadDir(filepath.Join(b.ws, "up/nested"))
		require.NoError(t, err)
		require.Len(t, entries, 1, "no temporary upload files left behind")
	})
	t.Run("LargeFileStreams", func(t *testing.T) {
		data := randomBytes(t, 64<<20)
		code, out := b.upload(t, "big.bin", bytes.NewReader(data), false)
		require.Equal(t, 200, code, out)
		require.Equal(t, float64(len(data)), out["size"])
		resp, got := b.download(t, "big.bin")
		require.Equal(t, 200, resp.StatusCode)
		require.True(t, bytes.Equal(data, got))
	})
	t.Run("NonASCIIName", func(t *testing.T) {
		code, _ := b.upload(t, "données é.txt", bytes.NewReader([]byte("x")), true)
		require.Equal(t, 200, code)
		resp, _ := b.download(t, url.QueryEscape("données é.txt"))
		require.Equal(t, "attachment; filename*=utf-8''donn%C3%A9es%20%C3%A9.txt", resp.Header.Get("Content-Disposition"))
	})
	t.Run("MissingParts", func(t *testing.T) {
		code, out := b.upload(t, "", io.LimitReader(nil, 0), true)
		require.Equal(t, 500, code, out)
		require.Equal(t, false, out["success"])
		require.Equal(t, "File upload failed", out["message"])
	})
	t.Run("DownloadErrors", func(t *testing.T) {
		resp, raw := b.download(t, "nope.bin")
		require.Equal(t, 404, resp.StatusCode)
		require.JSONEq(t, `{"detail":"File not found"}`, string(raw))
		resp, _ = b.download(t, "up")
		require.Equal(t, 400, resp.StatusCode)
	})
}
