// Command fakeship is a tiny stand-in for Ship used by Bay's tests when no
// real Python is needed: it answers /, /health, /stat, /meta and
// /capabilities, and keeps an in-memory filesystem behind /fs/write_file,
// /fs/read_file, /fs/delete_file, /fs/list_dir, /fs/upload and
// /fs/download. /meta lists "filesystem", and "python" and "shell", whose
// executions (/ipython/exec, /shell/exec, their /stream variants that
// answer NDJSON, and /exec/{exec_id}/cancel) echo the code or the command,
// but for the few shapes exec.go lists (a sleep waits, a raise fails).
//
// Like Ship it needs BAY_RUNTIME_TOKEN at start and answers every request
// but GET /health with 401 unless it carries "Authorization: Bearer
// <token>"; /meta's runtime object says "auth": "bearer".
//
// With FAKE_RUNTIME=browser it stands in for the browser runtime instead
// (browser.go, browser.md §5.3): port BROWSERD_PORT (8124), a /meta that
// declares only "browser", /exec and /exec_batch that echo, and /health
// failing with FAKE_FAIL_HEALTH=1.
//
// Its bodies are the types of ship/wire, which Ship and Bay's shipclient
// share, and conformance.RunShip runs against it (through shipclient) as
// against Ship. It imports the standard library and ship/wire.
package main
