package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill a child if the harness dies without
// stopping it (a kill -9, a test timeout).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
