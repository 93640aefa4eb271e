//go:build !linux

package sipptest

import "os/exec"

// dieWithParent is best effort: only Linux can tie sipp's life to ours;
// elsewhere sipp's -timeout bounds it.
func dieWithParent(cmd *exec.Cmd) {}
