package kernel

import (
	"os"
	"os/exec"
)

// FindPython returns the interpreter to run kernels with: $SHIP_PYTHON if
// set, else /usr/bin/python3 (Debian's, which has python3-ipykernel; a
// python3 earlier on PATH may be another installation without it).
func FindPython() string {
	if p := os.Getenv("SHIP_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

// HasIPyKernel reports whether python can import ipykernel.
func HasIPyKernel(python string) bool {
	return exec.Command(python, "-c", "import ipykernel_launcher").Run() == nil
}
