package proc

import (
	"fmt"
	"os/exec"
	"time"
)

// Kill kills cmd's process group, unless exited (closed when cmd.Wait has
// returned) says it is gone already, and waits up to 10 s for it to exit.
// The test servers hold throwaway state, so there is nothing to shut down
// gracefully.
func Kill(name string, cmd *exec.Cmd, exited <-chan struct{}) error {
	select {
	case <-exited:
		return nil
	default:
	}
	err := KillGroup(cmd)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		err = fmt.Errorf("%s did not exit 10 s after SIGKILL", name)
	}
	return err
}
