// Command opsworks is the Fluent Bit filter plugin flb-filter_opsworks.so,
// built with -buildmode=c-shared. This package is the thin boundary: decode
// the callback arguments, call the plain-Go core in package filter, map the
// result to a Fluent Bit return code. Every exported entry point recovers
// panics, since a panic here would take the whole Fluent Bit process down.
package main

/*
#cgo CFLAGS: -O2 -Wall -I${SRCDIR}/../include
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "opsworks.h"
*/
import "C"

import (
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"unsafe"

	options "github.com/opsworks-trail/opsworks-trail/config" // "config" is Fluent Bit's struct flb_config here
	"github.com/opsworks-trail/opsworks-trail/filter"
)

//go:generate go run ./gen config_map.h

// Fluent Bit filter return codes (flb_filter.h).
const (
	filterModified = 1
	filterNotouch  = 2
)

// instance is one [FILTER] section.
type instance struct {
	name    string
	proc    *filter.Processor
	emitter *C.struct_flb_input_instance
	stash   stash
	results sync.Pool
}

var (
	instances sync.Map // context id → *instance
	emitters  sync.Map // emitter input instance → *instance, for the flusher
	nextID    atomic.Uintptr
)

// propertyGetter reads configuration through flb_filter_get_property.
type propertyGetter struct{ ins *C.struct_flb_filter_instance }

func (g propertyGetter) Get(key string) string {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	v := C.opsworks_get_property(g.ins, ck)
	if v == nil {
		return ""
	}
	return C.GoString(v)
}

func logf(level C.int, format string, args ...any) {
	msg := C.CString(fmt.Sprintf(format, args...))
	defer C.free(unsafe.Pointer(msg))
	C.opsworks_log(level, msg)
}

// recoverTo turns a panic into a logged error and sets *code.
func recoverTo(where string, code *C.int, value C.int) {
	if r := recover(); r != nil {
		logf(C.OPSWORKS_LOG_ERROR, "internal error in %s (records passed on unchanged): %v\n%s", where, r, debug.Stack())
		*code = value
	}
}

//export goOpsworksInit
func goOpsworksInit(ins *C.struct_flb_filter_instance, config *C.struct_flb_config) (code C.int) {
	defer recoverTo("init", &code, -1)
	name := C.GoString(C.opsworks_filter_name(ins))
	cfg, err := filter.LoadConfig(propertyGetter{ins})
	if err != nil {
		logf(C.OPSWORKS_LOG_ERROR, "[%s] configuration error: %v", name, err)
		return -1
	}
	inst := &instance{name: name}
	inst.proc = filter.NewProcessor(cfg, func(msg string) { logf(C.OPSWORKS_LOG_WARN, "[%s] %s", name, msg) })
	if cfg.Retag {
		if cfg.EmitterName == "" {
			cfg.EmitterName = "emitter_for_" + name
		}
		if inst.emitter, err = createEmitter(config, cfg); err != nil {
			logf(C.OPSWORKS_LOG_ERROR, "[%s] %v", name, err)
			return -1
		}
		limit, _ := options.ParseSize(cfg.EmitterMemBufLimit) // validated by LoadConfig
		inst.stash.limit = int(limit)
		emitters.Store(uintptr(unsafe.Pointer(inst.emitter)), inst)
		if C.opsworks_start_flusher(inst.emitter, config) < 0 {
			logf(C.OPSWORKS_LOG_ERROR, "[%s] retag: cannot register the collector that hands re-tagged records to the emitter; use 'retag off'", name)
			return -1
		}
	}
	inst.results.New = func() any { return new(filter.Result) }
	id := nextID.Add(1)
	instances.Store(id, inst)
	C.opsworks_set_context(ins, C.uintptr_t(id))
	return 0
}

func createEmitter(config *C.struct_flb_config, cfg *filter.Config) (*C.struct_flb_input_instance, error) {
	name, storage, limit := C.CString(cfg.EmitterName), C.CString(cfg.EmitterStorageType), C.CString(cfg.EmitterMemBufLimit)
	defer C.free(unsafe.Pointer(name))
	defer C.free(unsafe.Pointer(storage))
	defer C.free(unsafe.Pointer(limit))
	var errBuf [512]C.char
	em := C.opsworks_emitter_create(config, name, storage, limit, &errBuf[0], C.size_t(len(errBuf)))
	if em == nil {
		return nil, fmt.Errorf("retag: %s", C.GoString(&errBuf[0]))
	}
	return em, nil
}

//export goOpsworksFilter
func goOpsworksFilter(data unsafe.Pointer, size C.size_t, tag *C.char, tagLen C.int,
	outBuf *unsafe.Pointer, outSize *C.size_t, iIns *C.struct_flb_input_instance, id C.uintptr_t) (code C.int) {
	defer recoverTo("filter", &code, filterNotouch)
	v, ok := instances.Load(uintptr(id))
	if !ok {
		return filterNotouch
	}
	inst := v.(*instance)
	// Records the emitter re-injected come back through this filter when its
	// Match covers the new tags: they are already processed.
	if inst.emitter != nil && iIns == inst.emitter {
		return filterNotouch
	}
	res := inst.results.Get().(*filter.Result)
	defer inst.results.Put(res)
	chunk := unsafe.Slice((*byte)(data), int(size))
	if err := inst.proc.FilterChunk(chunk, res); err != nil || !res.Modified {
		return filterNotouch
	}
	// The output buffer is allocated before anything is handed on: with
	// no memory for it the chunk passes unchanged, and its events must not
	// also reach the emitter (they would be delivered twice). Refused
	// emits join Keep, so Keep can grow by at most the emitted bytes.
	upper := len(res.Keep)
	for i := range res.Emits {
		upper += len(res.Emits[i].Records)
	}
	var buf unsafe.Pointer
	if upper > 0 {
		if buf = C.malloc(C.size_t(upper)); buf == nil { // Fluent Bit releases it with free()
			return filterNotouch
		}
	}
	for i := range res.Emits {
		inst.emit(&res.Emits[i], res)
	}
	*outBuf, *outSize = nil, 0
	if len(res.Keep) > 0 {
		copy(unsafe.Slice((*byte)(buf), len(res.Keep)), res.Keep)
		*outBuf, *outSize = buf, C.size_t(len(res.Keep))
	} else if buf != nil {
		C.free(buf)
	}
	return filterModified
}

// emitPiece is how much the flusher appends to the emitter per call: a
// paused emitter refuses a whole call.
const emitPiece = 256 << 10

// emit stashes e's records for the flusher, which appends them to the
// emitter under e.Tag (opsworks.c says why not from here). What does not
// fit under emitter_mem_buf_limit stays in the stream under the incoming
// tag (as rewrite_tag does with a full emitter), counted and logged.
func (inst *instance) emit(e *filter.Emission, res *filter.Result) {
	if e.Count == 0 {
		return
	}
	refused := 0
	for _, p := range e.Pieces(emitPiece) {
		if refused == 0 && inst.stash.add(e.Tag, p.Records, p.Count) {
			continue
		}
		refused += p.Count
		res.Keep = append(res.Keep, p.Records...)
	}
	if refused > 0 {
		inst.proc.Stats.Refused.Add(uint64(refused))
		logf(C.OPSWORKS_LOG_WARN, "[%s] emitter refused %d records for tag %s (it is paused and emitter_mem_buf_limit is reached); they stay under the incoming tag", inst.name, refused, e.Tag)
	}
}

// goOpsworksFlush is the flusher collector (opsworks.c): it appends the
// stashed records to the emitter, from Fluent Bit's event loop.
//
//export goOpsworksFlush
func goOpsworksFlush(emitter *C.struct_flb_input_instance) {
	var code C.int
	defer recoverTo("flush", &code, 0)
	v, ok := emitters.Load(uintptr(unsafe.Pointer(emitter)))
	if !ok {
		return
	}
	inst := v.(*instance)
	inst.stash.flush(func(tag string, records []byte) bool {
		t := (*C.char)(unsafe.Pointer(unsafe.StringData(tag)))
		return C.opsworks_append(inst.emitter, t, C.int(len(tag)), (*C.char)(unsafe.Pointer(&records[0])), C.size_t(len(records))) == 0
	})
}

//export goOpsworksExit
func goOpsworksExit(id C.uintptr_t) {
	var code C.int
	defer recoverTo("exit", &code, 0)
	v, ok := instances.LoadAndDelete(uintptr(id))
	if !ok {
		return
	}
	inst := v.(*instance)
	if inst.emitter != nil {
		emitters.Delete(uintptr(unsafe.Pointer(inst.emitter)))
	}
	st := &inst.proc.Stats
	// Fluent Bit's loop is over: records the emitter would not take (it
	// stayed paused to the end) cannot be delivered any more.
	if lost := inst.stash.drop(); lost > 0 {
		st.Lost.Add(uint64(lost))
		logf(C.OPSWORKS_LOG_ERROR, "[%s] %d re-tagged records were lost: the emitter stayed paused (over emitter_mem_buf_limit or its storage limit) until Fluent Bit stopped", inst.name, lost)
	}
	level := C.int(C.OPSWORKS_LOG_INFO)
	if st.Refused.Load() > 0 || st.Lost.Load() > 0 {
		level = C.OPSWORKS_LOG_WARN
	}
	logf(level, "[%s] %s", inst.name, st.String())
	if n := st.Refused.Load(); n > 0 {
		logf(C.OPSWORKS_LOG_WARN, "[%s] %d records the emitter refused stayed under their incoming tag: route that tag to the same destination", inst.name, n)
	}
}

func main() {}
