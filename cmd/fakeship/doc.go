// Command fakeship is a tiny stand-in for Ship used by Bay's tests when no
// Python is needed: it answers /, /health, /stat and /meta, and keeps an
// in-memory filesystem behind /fs/write_file, /fs/read_file,
// /fs/delete_file and /fs/list_dir. /meta lists only "filesystem".
package main
