//go:build !linux

package kafkatest

import "os/exec"

// setParentDeathSignal does nothing here; the broker still exits when its
// stdin pipe from the parent closes.
func setParentDeathSignal(*exec.Cmd) {}
