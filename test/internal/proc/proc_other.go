//go:build !linux

package proc

import "os/exec"

// Elsewhere there is no flock or parent-death signal: installs are only
// serialised within one process, and only the server process is killed.
func LockFile(string) (func(), error) { return func() {}, nil }

func OwnProcessGroup(*exec.Cmd) {}

func KillGroup(cmd *exec.Cmd) error { return cmd.Process.Kill() }
