/*
 * exit_on_eof: ending Fluent Bit when a bounded window is read and committed.
 *
 * Fluent Bit stops gracefully (the Grace period flushes every chunk, the
 * opsworks filter's re-tagged events included) on flb_engine_exit(config),
 * and flb_engine_exit_status(config, code) also sets the code the fluent-bit
 * executable exits with (src/fluent-bit.c returns
 * ctx->config->exit_status_code). Both are exported by the binary. The Go
 * proxy hands an input neither config nor its return codes to the engine
 * (a collect callback's status is ignored; kill(getpid(), SIGTERM) always
 * exits 0), so the plugin needs the struct flb_config pointer itself.
 *
 * Where it comes from: the fluent-bit executable keeps its running context
 * in the exported global `flb_ctx_t *ctx` (src/fluent-bit.c; main() sets it
 * from flb_create() and again after each hot reload). flb_ctx_t is struct
 * flb_lib_ctx {int status; struct mk_event_loop *event_loop; struct mk_event
 * *event_channel; struct flb_config *config;}, the same in 4.0 – 5.1
 * (include/fluent-bit/flb_lib.h). Nothing of that is assumed blindly:
 *  - the symbol must be defined by the main program (not a library or a
 *    program embedding libfluent-bit that happens to export a `ctx`);
 *  - the config found there must be *this input's* config: struct
 *    flb_input_instance holds `struct flb_config *config`, at an offset that
 *    changes between releases, so the instance (the proxy passes it as
 *    flbgo_input_plugin.i_ins, the third pointer of the struct fluent-bit-go
 *    receives) is scanned word by word, within its allocation
 *    (malloc_usable_size), for that pointer.
 * Anything else fails init with a message: exit_on_eof is never half on.
 *
 * Hot reload: flb_reload() destroys the old context before it starts the new
 * one, and main() updates `ctx` only afterwards, so during a reload `ctx`
 * points at freed memory. flb_context_get() (the thread's own context, set
 * in the pipeline thread) is asked first; `ctx` is read only while the
 * exported flb_bin_restarting says no reload is in progress.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "engineexit.h"
#include "proxydef.h"

#define WEAK __attribute__((weak))
WEAK int flb_engine_exit_status(void *config, int status);
WEAK void *flb_context_get(void);

/* include/fluent-bit/flb_lib.h, 4.0 – 5.1 */
struct lib_ctx {
    int status;
    void *event_loop;
    void *event_channel;
    void *config;
};

/* fluent-bit-go's struct flbgo_input_plugin: name, api, i_ins, context. */
struct go_input_plugin {
    void *name;
    void *api;
    void *i_ins;
    void *context;
};

static void *engine_config;

int cts3_engine_attach(void *plugin, char *msg, size_t msg_size)
{
    struct lib_ctx **ctxp;
    struct lib_ctx *c;
    void *i_ins;
    size_t size;

    if (!flb_engine_exit_status) {
        snprintf(msg, msg_size, "this Fluent Bit does not export flb_engine_exit_status");
        return -1;
    }
    c = flb_context_get ? (struct lib_ctx *) flb_context_get() : NULL;
    if (!c) {
        volatile int *restarting = (volatile int *) dlsym(RTLD_DEFAULT, "flb_bin_restarting");
        ctxp = (struct lib_ctx **) dlsym(RTLD_DEFAULT, "ctx");
        if (!ctxp || !cts3_in_main_program(ctxp) || !restarting || !cts3_in_main_program((void *) restarting)) {
            snprintf(msg, msg_size, "the host program exports no Fluent Bit context (not the fluent-bit executable?)");
            return -1;
        }
        if (*restarting != 0) {
            snprintf(msg, msg_size, "a hot reload is in progress (exit_on_eof does not survive a reload)");
            return -1;
        }
        c = *ctxp;
    }
    if (!c || !c->config) {
        snprintf(msg, msg_size, "Fluent Bit's context has no configuration yet");
        return -1;
    }
    i_ins = plugin ? ((struct go_input_plugin *) plugin)->i_ins : NULL;
    if (!i_ins) {
        snprintf(msg, msg_size, "the proxy passed no input instance");
        return -1;
    }
    size = malloc_usable_size(i_ins);
    for (size_t off = 0; off + sizeof(void *) <= size; off += sizeof(void *)) {
        void *word;
        memcpy(&word, (char *) i_ins + off, sizeof(word));
        if (word == c->config) {
            engine_config = c->config;
            return 0;
        }
    }
    snprintf(msg, msg_size, "Fluent Bit's running configuration is not this input's (a hot reload in progress?)");
    return -1;
}

/* Asks the engine to stop gracefully and exit with code: 0, or -1 when the
 * request could not be made. Thread-safe: flb_engine_exit() writes an event
 * to the engine's channel and returns what the write returned (the number
 * of bytes, 8, on success; -1 on error). */
int cts3_engine_exit(int code)
{
    if (!engine_config || !flb_engine_exit_status) {
        return -1;
    }
    return flb_engine_exit_status(engine_config, code) < 0 ? -1 : 0;
}
