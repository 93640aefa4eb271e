//go:build !linux

package redistest

import "os/exec"

// setDeathSignal does nothing where the kernel offers no parent-death
// signal; t.Cleanup still stops the server on every orderly exit.
func setDeathSignal(*exec.Cmd) {}
