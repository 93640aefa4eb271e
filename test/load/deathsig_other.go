//go:build !linux

package main

import "os/exec"

// dieWithParent is best effort: only Linux ties a child's life to ours;
// elsewhere sipp's -timeout bounds it and the run's cleanup stops the rest.
func dieWithParent(cmd *exec.Cmd) {}
