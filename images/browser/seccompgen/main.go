// Command seccompgen writes images/browser/seccomp.json: Docker's default seccomp
// profile (github.com/moby/profiles/seccomp v0.3.0, DefaultProfile) plus one
// unconditional allow rule for clone, unshare and chroot, which Chromium's
// namespace sandbox needs (browser.md §6). It is a module of its own so
// that Bay's go.mod does not list moby/profiles:
//
//	cd images/browser/seccompgen && go run . > ../seccomp.json
package main

import (
	"encoding/json"
	"os"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func main() {
	p := seccomp.DefaultProfile()
	p.Syscalls = append(p.Syscalls, &seccomp.Syscall{
		LinuxSyscall: specs.LinuxSyscall{
			Names:  []string{"clone", "unshare", "chroot"},
			Action: specs.ActAllow,
		},
		Comment: "bay-browser: Chromium's namespace sandbox creates user, pid and net namespaces and chroots into them (browser.md §6)",
	})
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "\t")
	if err := enc.Encode(p); err != nil {
		panic(err)
	}
}
