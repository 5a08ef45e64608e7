// Package fsx confines filesystem access to the workspace root: it resolves
// user-supplied paths the way the kernel would (symlinks included) and
// refuses anything that ends up outside the root, and it implements the
// file operations of Ship's /fs endpoints on top of that.
//
// It imports the standard library and ship/runas only.
package fsx
