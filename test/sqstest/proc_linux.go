//go:build linux

package sqstest

import (
	"os"
	"os/exec"
	"syscall"
)

// lockFile takes an exclusive flock, blocking until other holders let go.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// ownProcessGroup puts the child in its own process group, so stopping it
// stops anything it spawned, and has the kernel kill it if this process
// dies first (a test binary killed by its timeout must not leave servers
// behind). The parent-death signal follows the OS thread that started the
// child, which the Go runtime may retire; server.js also exits when its
// stdin closes, which does not depend on threads.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the child's whole process group; a group that is already
// gone is not an error.
func killGroup(cmd *exec.Cmd) error {
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
		return err
	}
	return nil
}
