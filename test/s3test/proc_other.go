//go:build !linux

package s3test

import "os/exec"

// Elsewhere there is no flock or parent-death signal: installs are only
// serialised within one process, and only the server process is killed.
func lockFile(string) (func(), error) { return func() {}, nil }

func ownProcessGroup(*exec.Cmd) {}

func killGroup(cmd *exec.Cmd) error { return cmd.Process.Kill() }
