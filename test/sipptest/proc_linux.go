package sipptest

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill sipp if the test binary dies without
// running its cleanups (a test timeout panic, a kill).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
