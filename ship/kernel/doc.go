// Package kernel runs one Jupyter (IPython) kernel process and talks to it
// over the Jupyter messaging protocol on ZeroMQ sockets (github.com/go-zeromq/zmq4).
//
// A Manager owns at most one kernel at a time, serializes executions in FIFO
// order, matches every message to its request by the parent msg_id, interrupts
// cells that exceed their timeout and replaces kernels that died.
//
// It imports the standard library, zmq4 and ship/runas only.
package kernel
