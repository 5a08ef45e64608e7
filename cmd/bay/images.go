package main

import (
	"fmt"
	"io"
	"slices"

	"github.com/bayhq/bay/core"
)

// helperImage is the image of Bay's short-lived helper containers (locker
// file access): the default profile's image, else the first profile's.
func (c Config) helperImage() string {
	img := ""
	for _, p := range c.Profiles {
		if p.ID == core.DefaultProfileID || img == "" {
			img = p.Image
		}
	}
	return img
}

// guardImage is the image of the network guards: driver.docker.guard_image,
// else the helper image.
func (c Config) guardImage() string {
	if c.Driver.Docker.GuardImage != "" {
		return c.Driver.Docker.GuardImage
	}
	return c.helperImage()
}

// neededImages lists, without duplicates, the images Bay needs to serve
// the default profile (every container's image and the guard's), or every
// profile's with all: ./task run builds only the default profile's, so a
// profile with a browser does not make every run build the browser image.
func (c Config) neededImages(all bool) []string {
	var out []string
	add := func(img string) {
		if img != "" && !slices.Contains(out, img) {
			out = append(out, img)
		}
	}
	for _, p := range c.Profiles {
		if all || p.ID == core.DefaultProfileID {
			for _, ct := range p.ContainerList() {
				add(ct.Image)
			}
		}
	}
	add(c.helperImage())
	add(c.guardImage())
	return out
}

// images prints the images the configuration needs, one per line, for
// scripts that build them (./task run).
func images(cfg Config, args []string, stdout io.Writer) error {
	all := false
	switch {
	case len(args) == 0:
	case len(args) == 1 && args[0] == "--all":
		all = true
	default:
		return &usageError{msg: "images takes no argument but --all"}
	}
	for _, img := range cfg.neededImages(all) {
		fmt.Fprintln(stdout, img)
	}
	return nil
}
