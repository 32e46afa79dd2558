//go:build !linux

package testenv

import "os/exec"

// setParentDeathSignal does nothing outside Linux: end processes with Kill.
func setParentDeathSignal(*exec.Cmd) {}
