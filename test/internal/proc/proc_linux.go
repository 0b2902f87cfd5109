//go:build linux

// Package proc holds the process plumbing the test servers share (MinIO in
// test/s3test, local-aws-sqs in test/sqstest): one install at a time per
// machine, and child servers that die with the test binary.
package proc

import (
	"os"
	"os/exec"
	"syscall"
)

// LockFile takes an exclusive flock, blocking until other holders let go.
func LockFile(path string) (unlock func(), err error) {
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

// OwnProcessGroup puts the child in its own process group, so stopping it
// stops anything it spawned, and has the kernel kill it if this process
// dies first (a test binary killed by its timeout must not leave servers
// behind). The parent-death signal follows the OS thread that started the
// child, which the Go runtime may retire: a server should also watch its
// stdin (as local-aws-sqs's server.js does).
func OwnProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// KillGroup kills the child's whole process group; a group that is already
// gone is not an error.
func KillGroup(cmd *exec.Cmd) error {
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
		return err
	}
	return nil
}
