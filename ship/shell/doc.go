// Package shell runs shell commands for Ship's /shell endpoints: as the
// sandbox identity, in their own process group (killed as a whole on
// timeout or cancellation: SIGTERM, then SIGKILL), with stdin from
// /dev/null and stdout and stderr captured separately; optionally streamed
// while the command runs (coalesced, valid UTF-8); and background jobs
// tracked in a registry.
//
// It imports the standard library and ship/runas only.
package shell
