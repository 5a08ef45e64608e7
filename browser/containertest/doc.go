// Package containertest runs the browser image (bay-browser:latest) in real
// Docker containers started the way Bay starts a browser container
// (browser.md §6: uid 1000, all capabilities dropped, no-new-privileges, a
// read-only root with a /tmp tmpfs, /dev/shm sized, and the seccomp profile
// of images/browser/seccomp.json) and checks it through the published port.
// The tests skip, saying why (or fail under BAY_TEST_STRICT), when Docker or
// the image is missing; build it first with images/build.sh browser.
//
// It imports the standard library and testify, and for the browser
// conformance suite core/conformance, core and adapters/browserclient;
// Docker is driven through the docker CLI.
package containertest
