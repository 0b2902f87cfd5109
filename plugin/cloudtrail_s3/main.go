// Command cloudtrail_s3 is the Fluent Bit input plugin in_cloudtrail_s3.so,
// built with -buildmode=c-shared and loaded by Fluent Bit's Go proxy. This
// package is only the boundary: it reads the configuration, runs the plain-Go
// engine of package input, hands its prepared batches to Fluent Bit, and
// commits them once Fluent Bit has appended them. Every exported entry point
// recovers panics: a panic here would take the whole Fluent Bit process down.
//
// Fluent Bit's Go proxy calls FLBPluginInputCallback once a second from the
// input's own thread, appends what it returns (flb_input_log_append) and then
// calls FLBPluginInputCleanupCallback with the same buffer. That cleanup call
// is the point where the records are in Fluent Bit's buffer, so it is where
// the objects they came from are committed to the checkpoint.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../include
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "flblog.h"
#include "engineexit.h"
*/
import "C"

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
	"unsafe"

	flbinput "github.com/fluent/fluent-bit-go/input"
	"github.com/opsworks-trail/opsworks-trail/input"
)

const (
	name        = "cloudtrail_s3"
	description = "Read CloudTrail log files from S3, a local copy or SQS notifications (backfill, follow, fleet)"
)

// plugin is the single instance's state. The Go proxy API of the supported
// Fluent Bit versions passes no per-instance context to the callbacks, so one
// .so serves one [INPUT] section (documented in the README).
var plugin state

type state struct {
	mu      sync.Mutex
	engine  *input.Engine
	cfg     *input.Config
	cancel  context.CancelFunc
	pending map[unsafe.Pointer]*input.Batch // buffers handed to Fluent Bit, not yet appended
	// appended batches wait commitDelay before they are committed (see
	// commitDelay); the next collects commit them, and exit commits the rest.
	appended []appendedBatch
	exiting  bool // exit_on_eof asked Fluent Bit to stop
}

type appendedBatch struct {
	b  *input.Batch
	at time.Time
}

// commitDelay: Fluent Bit runs a Go input in its own thread, and what the
// input appends goes into a ring buffer that the engine moves into chunks
// (and through the filters, into the emitter's queue) every 250 ms, in
// 4.0 and 5.1 alike (flb_engine.c, FLB_DEV_RB_MS). Until then the records
// exist in memory only: a batch committed at append time and lost with a
// SIGKILL before that move was never delivered, even with
// storage.type filesystem (measured: 80 of 1,200 OpsWorks events, a batch's
// worth). Committing a batch only after a few ring-buffer periods leaves
// the checkpoint behind what Fluent Bit has on disk, never ahead of it. A
// graceful exit drains the ring buffer first, so exit commits the rest.
const commitDelay = 2 * time.Second

// commitSettled commits the appended batches older than commitDelay (all
// when all is set). The caller holds plugin.mu.
func commitSettled(eng *input.Engine, now time.Time, all bool) {
	n := 0
	for _, a := range plugin.appended {
		if !all && now.Sub(a.at) < commitDelay {
			break
		}
		eng.Commit(a.b)
		n++
	}
	plugin.appended = plugin.appended[n:]
}

// exitIfDone implements exit_on_eof: once the bounded window is read and
// every batch was committed (which commitDelay puts past Fluent Bit's ring
// buffer, so the records and the filter's re-tagged copies are in chunks),
// it asks Fluent Bit to stop gracefully with the run's exit code. The Grace
// period then delivers the chunks; FLBPluginExit saves the checkpoint. The
// caller holds plugin.mu.
func exitIfDone(eng *input.Engine) {
	if !plugin.cfg.ExitOnEOF || plugin.exiting || !eng.Done() {
		return
	}
	plugin.exiting = true
	st := eng.Stats()
	code := st.ExitCode()
	level, how := 3, "every object was delivered"
	if code != 0 {
		level, how = 1, fmt.Sprintf("%d objects failed and %d were unusable (see the summary)", st.ObjectsFailed, st.ObjectsBad)
	}
	logf(level, "exit_on_eof: the window is read and committed, %s; stopping Fluent Bit with exit code %d", how, code)
	if C.cts3_engine_exit(C.int(code)) != 0 {
		logf(1, "exit_on_eof: Fluent Bit did not accept the stop request; stop it by hand")
	}
}

func logf(level int, format string, args ...any) {
	msg := C.CString(fmt.Sprintf(format, args...))
	defer C.free(unsafe.Pointer(msg))
	C.cts3_log(C.int(level), msg)
}

// recoverTo turns a panic into a logged error and sets *code.
func recoverTo(where string, code *int, value int) {
	if r := recover(); r != nil {
		logf(1, "internal error in %s: %v\n%s", where, r, debug.Stack())
		*code = value
	}
}

// propertyGetter reads the [INPUT] section through the Go proxy.
type propertyGetter struct{ ptr unsafe.Pointer }

func (g propertyGetter) Get(key string) string { return flbinput.FLBPluginConfigKey(g.ptr, key) }

//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) (code int) {
	defer recoverTo("register", &code, flbinput.FLB_ERROR)
	if code = flbinput.FLBPluginRegister(def, name, description); code != 0 {
		return code
	}
	offerConfigMap(def) // Fluent Bit >= 5.1.1 then rejects unknown keys (configmap.go)
	return code
}

//export FLBPluginInit
func FLBPluginInit(ptr unsafe.Pointer) (code int) {
	defer recoverTo("init", &code, flbinput.FLB_ERROR)
	plugin.mu.Lock()
	defer plugin.mu.Unlock()
	if plugin.engine != nil {
		logf(1, "only one cloudtrail_s3 input per Fluent Bit process is supported (the Go proxy passes no instance context); load a second copy of the .so under another name or run another process")
		return flbinput.FLB_ERROR
	}
	logKeyCheck()
	cfg, err := input.LoadConfig(propertyGetter{ptr})
	if err != nil {
		logf(1, "configuration error: %v", err)
		return flbinput.FLB_ERROR
	}
	if cfg.ExitOnEOF {
		var msg [256]C.char
		if C.cts3_engine_attach(ptr, &msg[0], C.size_t(len(msg))) != 0 {
			logf(1, "exit_on_eof: cannot stop Fluent Bit from this input: %s", C.GoString(&msg[0]))
			return flbinput.FLB_ERROR
		}
	}
	eng, err := input.NewEngine(cfg, input.Deps{Logf: logf})
	if err != nil {
		logf(1, "%v", err)
		return flbinput.FLB_ERROR
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := eng.Start(ctx); err != nil {
		cancel()
		logf(1, "%v", err)
		return flbinput.FLB_ERROR
	}
	plugin.engine, plugin.cfg, plugin.cancel = eng, cfg, cancel
	plugin.pending = map[unsafe.Pointer]*input.Batch{}
	return flbinput.FLB_OK
}

// FLBPluginInputCallback hands Fluent Bit the next prepared batch. It never
// blocks: the engine prepares batches in the background.
//
//export FLBPluginInputCallback
func FLBPluginInputCallback(data *unsafe.Pointer, size *C.size_t) (code int) {
	defer recoverTo("collect", &code, flbinput.FLB_ERROR)
	*data, *size = nil, 0
	plugin.mu.Lock()
	defer plugin.mu.Unlock()
	eng := plugin.engine
	if eng == nil {
		return flbinput.FLB_OK
	}
	commitSettled(eng, time.Now(), false)
	exitIfDone(eng)
	b := eng.Collect(plugin.cfg.BatchSize)
	if b == nil || len(b.Records) == 0 {
		return flbinput.FLB_OK // the engine logs progress and, at the end of a backfill, its summary
	}
	buf := C.malloc(C.size_t(len(b.Records)))
	if buf == nil {
		return flbinput.FLB_ERROR // the batch stays uncommitted and is re-read after a restart
	}
	copy(unsafe.Slice((*byte)(buf), len(b.Records)), b.Records)
	*data, *size = buf, C.size_t(len(b.Records))
	// Fluent Bit has its copy: the batch waits two seconds for its commit
	// with its keys only, not a second copy of up to batch_size (with
	// every event read, three such copies were most of the memory).
	b.Records = nil
	plugin.pending[buf] = b
	return flbinput.FLB_OK
}

//export FLBPluginInputCleanupCallback
func FLBPluginInputCleanupCallback(data unsafe.Pointer) (code int) {
	defer recoverTo("cleanup", &code, flbinput.FLB_ERROR)
	plugin.mu.Lock()
	defer plugin.mu.Unlock()
	b, ok := plugin.pending[data]
	delete(plugin.pending, data)
	if data != nil {
		C.free(data)
	}
	if ok && plugin.engine != nil {
		plugin.appended = append(plugin.appended, appendedBatch{b: b, at: time.Now()})
	}
	return flbinput.FLB_OK
}

//export FLBPluginInputPause
func FLBPluginInputPause() {
	var code int
	defer recoverTo("pause", &code, 0)
	if eng := currentEngine(); eng != nil {
		eng.Pause()
	}
}

//export FLBPluginInputResume
func FLBPluginInputResume() {
	var code int
	defer recoverTo("resume", &code, 0)
	if eng := currentEngine(); eng != nil {
		eng.Resume()
	}
}

//export FLBPluginExit
func FLBPluginExit() (code int) {
	defer recoverTo("exit", &code, flbinput.FLB_ERROR)
	plugin.mu.Lock()
	eng, cancel := plugin.engine, plugin.cancel
	if eng != nil {
		commitSettled(eng, time.Now(), true)
	}
	plugin.engine = nil
	plugin.mu.Unlock()
	if eng == nil {
		return flbinput.FLB_OK
	}
	eng.Stop() // saves the checkpoint and logs the summary
	cancel()
	return flbinput.FLB_OK
}

func currentEngine() *input.Engine {
	plugin.mu.Lock()
	defer plugin.mu.Unlock()
	return plugin.engine
}

func main() {}
