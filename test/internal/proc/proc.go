package proc

import (
	"fmt"
	"os/exec"
	"sync"
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

// TailBuffer keeps the last Max bytes written to it: a server's output is
// only needed when something went wrong, and then its end matters.
type TailBuffer struct {
	Max int

	mu  sync.Mutex
	buf []byte
}

func (b *TailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.Max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *TailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
