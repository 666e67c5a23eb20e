package load

import (
	"os/exec"
	"syscall"
)

// dieWithParent asks the kernel to kill the child if this process dies
// without cleaning up (SIGKILL, a crash), so that no server is left behind
// holding a port.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
