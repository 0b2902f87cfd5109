//go:build !linux

package sqstest

import "os/exec"

// Elsewhere there is no flock or parent-death signal: installs are only
// serialised within one process, and only the server process is killed
// (server.js still exits when its stdin closes).
func lockFile(string) (func(), error) { return func() {}, nil }

func ownProcessGroup(*exec.Cmd) {}

func killGroup(cmd *exec.Cmd) error { return cmd.Process.Kill() }
