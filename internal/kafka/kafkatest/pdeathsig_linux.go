package kafkatest

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel terminate the broker if the test
// binary dies without stopping it.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
