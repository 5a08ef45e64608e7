package server

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path/filepath"
	"strconv"

	"github.com/bayhq/bay/ship/fsx"
	"github.com/bayhq/bay/ship/wire"
)

// fsError writes the response for a failed file operation. notFound is the
// 404 message; failed prefixes unexpected errors (500).
func (s *Server) fsError(w http.ResponseWriter, r *http.Request, err error, path, notFound, failed string) {
	var multi *fsx.MultipleMatchesError
	switch {
	case errors.Is(err, fsx.ErrInvalid):
		writeDetail(w, http.StatusBadRequest, "Invalid path: "+err.Error())
	case errors.Is(err, fsx.ErrOutside):
		writeDetail(w, http.StatusForbidden, "Access denied: path must be within workspace "+s.root.Dir)
	case errors.Is(err, fsx.ErrNotFound):
		writeDetail(w, http.StatusNotFound, notFound)
	case errors.Is(err, fsx.ErrNotFile):
		writeDetail(w, http.StatusBadRequest, "Path is not a file: "+path)
	case errors.Is(err, fsx.ErrNotDir):
		writeDetail(w, http.StatusBadRequest, "Path is not a directory: "+path)
	case errors.Is(err, fsx.ErrIsRoot):
		writeDetail(w, http.StatusBadRequest, "Refusing to delete the workspace root: "+path)
	case errors.Is(err, fsx.ErrEncoding):
		writeDetail(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, fsx.ErrUnknownType):
		writeDetail(w, http.StatusBadRequest, "Unknown path type: "+path)
	case errors.Is(err, fsx.ErrSameStrings), errors.Is(err, fsx.ErrNoMatch):
		writeDetail(w, http.StatusBadRequest, err.Error())
	case errors.As(err, &multi):
		writeDetail(w, http.StatusBadRequest, multi.Error())
	default:
		s.log.ErrorContext(r.Context(), "filesystem", "path", path, "err", err)
		writeDetail(w, http.StatusInternalServerError, failed+err.Error())
	}
}

type createRequest struct {
	Path    string  `json:"path"`
	Content *string `json:"content"`
	Mode    *int    `json:"mode"`
}

func (s *Server) handleCreateFile(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if _, ok := decodeBody(w, r, &req, "path"); !ok {
		return
	}
	content, mode := "", 0o644
	if req.Content != nil {
		content = *req.Content
	}
	if req.Mode != nil {
		mode = *req.Mode
	}
	p, err := s.fs.CreateFile(req.Path, content, fs.FileMode(mode).Perm())
	if err != nil {
		s.fsError(w, r, err, req.Path, "Directory not found: "+req.Path, "Failed to create file: ")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "File created: " + req.Path, "path": p})
}

func (s *Server) handleReadFile(w http.ResponseWriter, r *http.Request) {
	var req wire.ReadFileRequest
	if _, ok := decodeBody(w, r, &req, "path"); !ok {
		return
	}
	if req.Encoding != nil {
		if err := fsx.CheckEncoding(*req.Encoding); err != nil {
			s.fsError(w, r, err, req.Path, "", "")
			return
		}
	}
	content, p, size, err := s.fs.ReadFile(req.Path, req.Offset, req.Limit)
	if err != nil {
		s.fsError(w, r, err, req.Path, "File not found: "+req.Path, "Failed to read file: ")
		return
	}
	writeJSON(w, http.StatusOK, wire.ReadFileResponse{Content: &content, Path: p, Size: size})
}

func (s *Server) handleWriteFile(w http.ResponseWriter, r *http.Request) {
	var req wire.WriteFileRequest
	if _, ok := decodeBody(w, r, &req, "path", "content"); !ok {
		return
	}
	if req.Encoding != nil {
		if err := fsx.CheckEncoding(*req.Encoding); err != nil {
			s.fsError(w, r, err, req.Path, "", "")
			return
		}
	}
	// "w" truncates; any other mode appends (reference behaviour).
	appendMode := req.Mode != nil && *req.Mode != wire.WriteModeTruncate
	p, size, err := s.fs.WriteFile(req.Path, req.Content, appendMode)
	if err != nil {
		s.fsError(w, r, err, req.Path, "Directory not found: "+req.Path, "Failed to write file: ")
		return
	}
	writeJSON(w, http.StatusOK, wire.WriteFileResponse{Success: true, Message: "File written: " + req.Path, Path: p, Size: size})
}

type editRequest struct {
	Path       string  `json:"path"`
	OldString  string  `json:"old_string"`
	NewString  string  `json:"new_string"`
	ReplaceAll bool    `json:"replace_all"`
	Encoding   *string `json:"encoding"`
}

func (s *Server) handleEditFile(w http.ResponseWriter, r *http.Request) {
	var req editRequest
	if _, ok := decodeBody(w, r, &req, "path", "old_string", "new_string"); !ok {
		return
	}
	if req.Encoding != nil {
		if err := fsx.CheckEncoding(*req.Encoding); err != nil {
			s.fsError(w, r, err, req.Path, "", "")
			return
		}
	}
	p, n, size, err := s.fs.EditFile(req.Path, req.OldString, req.NewString, req.ReplaceAll)
	if err != nil {
		s.fsError(w, r, err, req.Path, "File not found: "+req.Path, "Failed to edit file: ")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"success": true, "message": "File edited: " + req.Path, "path": p, "replacements": n, "size": size,
	})
}

func (s *Server) handleDeleteFile(w http.ResponseWriter, r *http.Request) {
	var req wire.DeleteFileRequest
	if _, ok := decodeBody(w, r, &req, "path"); !ok {
		return
	}
	_, isDir, err := s.fs.Delete(req.Path)
	if err != nil {
		s.fsError(w, r, err, req.Path, "Path not found: "+req.Path, "Failed to delete: ")
		return
	}
	msg := "File deleted: " + req.Path
	if isDir {
		msg = "Directory deleted: " + req.Path
	}
	writeJSON(w, http.StatusOK, wire.DeleteFileResponse{Success: true, Message: msg})
}

func (s *Server) handleListDir(w http.ResponseWriter, r *http.Request) {
	req := wire.ListDirRequest{Path: "."}
	present, ok := decodeBody(w, r, &req)
	if !ok {
		return
	}
	if v, ok := present["path"]; !ok || string(v) == "null" {
		req.Path = "."
	}
	p, files, err := s.fs.List(req.Path, req.ShowHidden)
	if err != nil {
		s.fsError(w, r, err, req.Path, "Directory not found: "+req.Path, "Failed to list directory: ")
		return
	}
	out := wire.ListDirResponse{Files: make([]wire.FileInfo, 0, len(files)), CurrentPath: p}
	for _, f := range files {
		mt := f.ModifiedTime
		out.Files = append(out.Files, wire.FileInfo{
			Name: f.Name, Path: f.Path, IsFile: f.IsFile, IsDir: f.IsDir, Size: f.Size, ModifiedTime: &mt,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// uploadFailed writes the upload failure body with status 500.
func uploadFailed(w http.ResponseWriter, err error) {
	msg := err.Error()
	writeJSON(w, http.StatusInternalServerError, wire.UploadResponse{Message: "File upload failed", Error: &msg})
}

// maxFieldSize bounds the file_path form field.
const maxFieldSize = 64 << 10

// handleUpload streams the "file" part straight to disk. When file_path
// arrives first the temporary file is created next to the target;
// otherwise in the workspace root and moved afterwards.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	mr, err := r.MultipartReader()
	if err != nil {
		writeValidation(w, missing("body", wire.UploadFieldFile), missing("body", wire.UploadFieldPath))
		return
	}
	var (
		filePath string
		havePath bool
		up       *fsx.Upload
	)
	defer func() {
		if up != nil {
			up.Abort()
		}
	}()
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			uploadFailed(w, fmt.Errorf("read multipart body: %w", err))
			return
		}
		switch part.FormName() {
		case wire.UploadFieldPath:
			b, err := io.ReadAll(io.LimitReader(part, maxFieldSize))
			if err != nil {
				uploadFailed(w, fmt.Errorf("read file_path: %w", err))
				return
			}
			filePath, havePath = string(b), true
		case wire.UploadFieldFile:
			if up != nil {
				continue
			}
			dir := ""
			if havePath {
				dir = filepath.Dir(filePath)
			}
			up, err = s.fs.NewUpload(dir)
			if err != nil {
				if errors.Is(err, fsx.ErrOutside) || errors.Is(err, fsx.ErrInvalid) {
					s.fsError(w, r, err, filePath, "", "")
				} else {
					uploadFailed(w, err)
				}
				return
			}
			if _, err := io.Copy(up, part); err != nil {
				uploadFailed(w, fmt.Errorf("write upload: %w", err))
				return
			}
		}
		part.Close()
	}
	var items []wire.ValidationItem
	if up == nil {
		items = append(items, missing("body", wire.UploadFieldFile))
	}
	if !havePath {
		items = append(items, missing("body", wire.UploadFieldPath))
	}
	if len(items) > 0 {
		writeValidation(w, items...)
		return
	}
	u := up
	up = nil
	p, size, err := u.Commit(filePath)
	if err != nil {
		if errors.Is(err, fsx.ErrOutside) || errors.Is(err, fsx.ErrInvalid) {
			s.fsError(w, r, err, filePath, "", "")
			return
		}
		uploadFailed(w, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.UploadResponse{Success: true, Message: "File uploaded successfully", FilePath: &p, Size: &size})
}

// handleDownload streams a file with Content-Length and an attachment
// Content-Disposition.
func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !q.Has(wire.DownloadQueryPath) {
		writeValidation(w, missing("query", wire.DownloadQueryPath))
		return
	}
	path := q.Get(wire.DownloadQueryPath)
	f, fi, err := s.fs.Open(path)
	if err != nil {
		switch {
		case errors.Is(err, fsx.ErrNotFound):
			writeDetail(w, http.StatusNotFound, "File not found")
		case errors.Is(err, fsx.ErrNotFile):
			writeDetail(w, http.StatusBadRequest, "Path is not a file")
		default:
			s.fsError(w, r, err, path, "File not found", "File download failed: ")
		}
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", contentDisposition(fi.Name()))
	h.Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
	w.WriteHeader(http.StatusOK)
	// io.Copy uses sendfile(2) through the ResponseWriter's ReadFrom.
	_, _ = io.Copy(w, f)
}

// contentDisposition quotes plain ASCII names and uses the RFC 5987
// filename*= form (via mime) for anything else.
func contentDisposition(name string) string {
	for _, c := range name {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return mime.FormatMediaType("attachment", map[string]string{"filename": name})
		}
	}
	return `attachment; filename="` + name + `"`
}
