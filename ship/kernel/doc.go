// Package kernel runs one Jupyter (IPython) kernel process and talks to it
// over the Jupyter messaging protocol on ZeroMQ sockets (github.com/go-zeromq/zmq4).
//
// A Manager owns at most one kernel at a time, serializes executions in FIFO
// order, matches every message to its request by the parent msg_id, interrupts
// cells that exceed their timeout and replaces kernels that died.
//
// An execution hands each output message of its request to a Sink as it
// arrives: the sync endpoint's sink folds them into the Result
// (spec/ship.md §6), a streamed execution's sink forwards them as Events
// (agent-reach.md §2.3). Executions registered with an ID can be cancelled
// while queued (they never run) or running (the cell is interrupted).
//
// It imports the standard library, zmq4 and ship/runas only.
package kernel
