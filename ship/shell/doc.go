// Package shell runs shell commands for Ship's /shell endpoints: as the
// sandbox identity, in their own process group (killed as a whole on
// timeout), with stdout and stderr captured separately; and background jobs
// tracked in a registry.
//
// It imports the standard library and ship/runas only.
package shell
