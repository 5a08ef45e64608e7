// Package browserimage holds what Bay needs at run time of the browser
// image (images/browser): the seccomp profile its containers run under
// (browser.md §6), embedded so that Bay needs no file beside its binary.
//
// It imports the standard library only.
package browserimage

import _ "embed" // the profile

// Seccomp is Docker's default seccomp profile (moby/profiles/seccomp
// v0.3.0) plus one unconditional allow rule for clone, unshare and chroot,
// so that Chromium's namespace sandbox can run. Docker's API takes it as
// the content of HostConfig.SecurityOpt "seccomp=<JSON>" (the docker CLI
// reads a file, the API wants the JSON itself). seccompgen/ writes it.
//
//go:embed seccomp.json
var Seccomp string

// SecurityOpt is the HostConfig.SecurityOpt entry for Seccomp.
func SecurityOpt() string { return "seccomp=" + Seccomp }
