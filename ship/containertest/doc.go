// Package containertest runs Ship's images (ship:latest, ship:data) in real
// Docker containers and checks them through the published HTTP port. The
// tests skip, saying why, when Docker or an image is missing; build the
// images first with images/build.sh.
//
// It imports the standard library and testify, and for the Ship
// conformance suite core/conformance, core and adapters/shipclient (Bay's
// client is how Bay sees the images); Docker is driven through the docker
// CLI.
package containertest
