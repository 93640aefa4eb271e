package redistest

import (
	"os/exec"
	"syscall"
)

// setDeathSignal has the kernel kill redis-server if the test binary dies
// without running its cleanups (a panic, a timeout), so no server outlives
// the test run.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
