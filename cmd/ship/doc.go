// Command ship is the runtime server that runs inside every sandbox
// container: see spec/ship.md.
package main
