//go:build !linux

package load

import "os/exec"

// dieWithParent does nothing here: only Linux can tie a child's life to its
// parent's. The deferred stops still end the children on every normal exit.
func dieWithParent(*exec.Cmd) {}
