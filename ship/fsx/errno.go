package fsx

import "syscall"

// syscallENOTDIR: a component of the path is a regular file.
var syscallENOTDIR error = syscall.ENOTDIR
