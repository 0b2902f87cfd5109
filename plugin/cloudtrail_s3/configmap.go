package main

/*
#include <stdlib.h>
#include "proxydef.h"
*/
import "C"

import (
	"sync"
	"unsafe"

	"github.com/opsworks-trail/opsworks-trail/input"
)

// keyCheck is what registration found out about Fluent Bit checking this
// input's keys; FLBPluginInit logs it (the log has no level yet at
// registration).
var keyCheck struct {
	sync.Mutex
	checked bool
	note    string
}

// cOptions holds input.Options as C strings for the config map. They are
// made once and never freed: Fluent Bit keeps the map as long as the plugin.
var cOptions struct {
	once              sync.Once
	keys, defs, descs **C.char
	n                 int
}

func optionArrays() (keys, defs, descs **C.char, n int) {
	o := &cOptions
	o.once.Do(func() {
		n := len(input.Options)
		ptr := C.size_t(unsafe.Sizeof((*C.char)(nil)))
		o.keys = (**C.char)(C.calloc(C.size_t(n), ptr))
		o.defs = (**C.char)(C.calloc(C.size_t(n), ptr))
		o.descs = (**C.char)(C.calloc(C.size_t(n), ptr))
		if o.keys == nil || o.defs == nil || o.descs == nil {
			return
		}
		k, d, s := unsafe.Slice(o.keys, n), unsafe.Slice(o.defs, n), unsafe.Slice(o.descs, n)
		for i, opt := range input.Options {
			k[i] = C.CString(opt.Key)
			if opt.Default != "" {
				d[i] = C.CString(opt.Default)
			}
			s[i] = C.CString(opt.Description)
		}
		o.n = n
	})
	return o.keys, o.defs, o.descs, o.n
}

// offerConfigMap gives Fluent Bit a config map of every key in input.Options
// where the running version's registration struct has the field (see
// proxydef.c), and records the outcome for FLBPluginInit.
func offerConfigMap(def unsafe.Pointer) {
	var msg [512]C.char
	checked := C.cts3_proxy_def_has_config_map(def, &msg[0], C.size_t(len(msg))) == 1
	if checked {
		keys, defs, descs, n := optionArrays()
		checked = n > 0 && C.cts3_proxy_def_set_config_map(def, keys, defs, descs, C.int(n), &msg[0], C.size_t(len(msg))) == 1
	}
	keyCheck.Lock()
	keyCheck.checked, keyCheck.note = checked, C.GoString(&msg[0])
	keyCheck.Unlock()
}

// logKeyCheck says at init whether Fluent Bit checked the keys.
func logKeyCheck() {
	keyCheck.Lock()
	checked, note := keyCheck.checked, keyCheck.note
	keyCheck.Unlock()
	if note == "" {
		return
	}
	if checked {
		logf(4, "%s", note)
		return
	}
	logf(3, "keys not checked by Fluent Bit: %s; a misspelled key is ignored", note)
}
