package wire

// ReadFileRequest is the body of POST /fs/read_file.
type ReadFileRequest struct {
	Path     string  `json:"path"`
	Encoding *string `json:"encoding,omitempty"`
	Offset   *int    `json:"offset,omitempty"`
	Limit    *int    `json:"limit,omitempty"`
}

// ReadFileResponse is the answer of POST /fs/read_file. Content is always
// sent; it is a pointer so that a client can tell an answer without it from
// an empty file.
type ReadFileResponse struct {
	Content *string `json:"content"`
	Path    string  `json:"path"`
	Size    int64   `json:"size"`
}

// WriteModeTruncate is WriteFileRequest.Mode for replacing a file; any
// other mode appends.
const WriteModeTruncate = "w"

// WriteFileRequest is the body of POST /fs/write_file. Parent directories
// are created.
type WriteFileRequest struct {
	Path     string  `json:"path"`
	Content  string  `json:"content"`
	Mode     *string `json:"mode,omitempty"`
	Encoding *string `json:"encoding,omitempty"`
}

// WriteFileResponse is the answer of POST /fs/write_file; Size is the
// file's size after the write.
type WriteFileResponse struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
	Path    string `json:"path"`
	Size    int64  `json:"size"`
}

// DeleteFileRequest is the body of POST /fs/delete_file. Directories are
// removed recursively.
type DeleteFileRequest struct {
	Path string `json:"path"`
}

// DeleteFileResponse is the answer of POST /fs/delete_file.
type DeleteFileResponse struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
}

// ListDirRequest is the body of POST /fs/list_dir; Path defaults to ".".
type ListDirRequest struct {
	Path       string `json:"path"`
	ShowHidden bool   `json:"show_hidden"`
}

// ListDirResponse is the answer of POST /fs/list_dir: directories first,
// then by case-insensitive name; names starting with "." only with
// ShowHidden.
type ListDirResponse struct {
	Files       []FileInfo `json:"files"`
	CurrentPath string     `json:"current_path"`
}

// FileInfo is one entry of a listing. Path is absolute; Size is null for
// directories; ModifiedTime is in seconds since the epoch.
type FileInfo struct {
	Name         string   `json:"name"`
	Path         string   `json:"path"`
	IsFile       bool     `json:"is_file"`
	IsDir        bool     `json:"is_dir"`
	Size         *int64   `json:"size"`
	ModifiedTime *float64 `json:"modified_time"`
}

// Form fields of POST /fs/upload (multipart/form-data) and the query
// parameter of GET /fs/download, which answers the raw bytes.
const (
	UploadFieldPath   = "file_path"
	UploadFieldFile   = "file"
	DownloadQueryPath = "file_path"
)

// UploadResponse is the answer of POST /fs/upload. A failed write answers
// 500 with Success false, FilePath and Size null, and Error set.
type UploadResponse struct {
	Success  bool    `json:"success"`
	Message  string  `json:"message"`
	FilePath *string `json:"file_path"`
	Size     *int64  `json:"size"`
	Error    *string `json:"error"`
}
