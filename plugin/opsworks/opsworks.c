/*
 * The Fluent Bit boundary of the `opsworks` filter.
 *
 * Fluent Bit loads native filters from `flb-filter_<name>.so` by looking up the
 * symbol `filter_<name>_plugin` and copying it (src/flb_plugin.c). This file
 * defines that struct and trampolines its callbacks into exported Go
 * functions (main.go). It declares, instead of including, the few Fluent Bit
 * functions it calls: the plugin builds without Fluent Bit's headers, and the
 * symbols resolve against the running `fluent-bit` binary, which exports them.
 *
 * Layout rules (Fluent Bit 4.0 – 5.1):
 *  - struct flb_filter_plugin is identical in all supported versions.
 *  - struct flb_config_map grew by one pointer in 5.0.3 (value.raw). The map
 *    is built at load time with the element size of the running binary,
 *    detected by a symbol added in the same change (flb_config_map_get_raw).
 *  - config->cio (needed for the emitter's storage, as in rewrite_tag) moves
 *    between versions; see cio_offset() for the detection and its check.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdio.h>

#include "opsworks.h"
#include "flb_log_bridge.h"
#include "_cgo_export.h"

/* ---- Fluent Bit ABI (mirrored, see header comment) ---- */

struct mk_list {
    struct mk_list *prev, *next;
};

struct flb_filter_plugin {
    int event_type;
    int flags;
    char *name;
    char *description;
    void *config_map;
    int (*cb_pre_run)(struct flb_filter_instance *, struct flb_config *, void *);
    int (*cb_init)(struct flb_filter_instance *, struct flb_config *, void *);
    int (*cb_filter)(const void *, size_t, const char *, int, void **, size_t *,
                     struct flb_filter_instance *, struct flb_input_instance *,
                     void *, struct flb_config *);
    int (*cb_exit)(void *, struct flb_config *);
    int (*cb_notification)(struct flb_filter_instance *, struct flb_config *, void *);
    struct mk_list _head;
};

#define FLB_FILTER_LOGS 1

/* Fluent Bit functions, weak so the .so links without Fluent Bit and a host
 * that lacks one is reported instead of crashing. */
#define WEAK __attribute__((weak))
WEAK const char *flb_filter_get_property(const char *key, struct flb_filter_instance *ins);
WEAK void flb_filter_set_context(struct flb_filter_instance *ins, void *context);
WEAK const char *flb_filter_name(struct flb_filter_instance *ins);
WEAK struct flb_input_instance *flb_input_new(struct flb_config *config, const char *input,
                                              void *data, int public_only);
WEAK int flb_input_set_property(struct flb_input_instance *ins, const char *k, const char *v);
WEAK int flb_input_instance_init(struct flb_input_instance *ins, struct flb_config *config);
WEAK void flb_input_instance_exit(struct flb_input_instance *ins, struct flb_config *config);
WEAK void flb_input_instance_destroy(struct flb_input_instance *ins);
WEAK int flb_input_name_exists(const char *name, struct flb_config *config);
WEAK int flb_storage_input_create(void *cio, struct flb_input_instance *in);
WEAK int flb_input_log_append(struct flb_input_instance *ins, const char *tag, size_t tag_len,
                              const void *buf, size_t buf_size);
WEAK int flb_input_set_collector_time(struct flb_input_instance *ins,
                                      int (*cb)(struct flb_input_instance *, struct flb_config *, void *),
                                      time_t seconds, long nanoseconds, struct flb_config *config);

/* ---- config map ---- */

struct opsworks_option {
    const char *key;
    const char *def;
    const char *desc;
};
#include "config_map.h"
#include "flb_config_map_abi.h"

static void *config_map;
struct flb_filter_plugin filter_opsworks_plugin;

static size_t config_map_element_size(void) { return config_map_entry_size(); }

/* Runs at dlopen, before Fluent Bit copies filter_opsworks_plugin. */
__attribute__((constructor)) static void build_config_map(void)
{
    size_t n = sizeof(opsworks_options) / sizeof(opsworks_options[0]); /* incl. terminator */
    size_t size = config_map_element_size();
    char *map = calloc(n, size);
    if (!map) {
        return;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        struct config_map_head *e = (struct config_map_head *) (map + i * size);
        e->type = FLB_CONFIG_MAP_STR;
        e->name = (char *) opsworks_options[i].key;
        e->def_value = (char *) opsworks_options[i].def;
        e->desc = (char *) opsworks_options[i].desc;
    }
    config_map = map;
    filter_opsworks_plugin.config_map = map;
}

/* ---- helpers called from Go ---- */

void opsworks_log(int level, const char *msg)
{
    flb_bridge_log(level, "filter:opsworks", msg);
}

const char *opsworks_get_property(struct flb_filter_instance *ins, const char *key)
{
    return flb_filter_get_property ? flb_filter_get_property(key, ins) : NULL;
}

const char *opsworks_filter_name(struct flb_filter_instance *ins)
{
    return flb_filter_name ? flb_filter_name(ins) : "opsworks";
}

void opsworks_set_context(struct flb_filter_instance *ins, uintptr_t id)
{
    if (flb_filter_set_context) {
        flb_filter_set_context(ins, (void *) id);
    }
}

/*
 * Re-tagged records reach the emitter input's chunks through a collector of
 * this filter's own on the emitter instance, not through
 * in_emitter_add_record() (rewrite_tag's path), and not from inside the
 * filter callback.
 *
 * Why not in_emitter_add_record(): it queues the records in the emitter's
 * private list, which the emitter's 25 ms collector moves into chunks. At
 * shutdown (tail's Exit_On_Eof, SIGTERM, flb_engine_exit) Fluent Bit pauses
 * every input, and the emitter's pause callback pauses that collector; the
 * queue is freed at exit. Whatever was queued is lost (measured with 5.1.1:
 * 107 of 720 events in one run of test/e2e's tail Exit_On_Eof test).
 *
 * Why not flb_input_log_append() from the filter callback: the callback runs
 * inside the source chunk's append (input_chunk_append_raw() holds that
 * chunk, runs the filters, then writes). A nested append to a filesystem
 * emitter can make Fluent Bit free space for an output's
 * storage.total_limit_size by destroying other inputs' chunks, the one being
 * filtered included: a use-after-free.
 *
 * So the filter keeps the records (package main, the stash) and this
 * collector, registered on the emitter instance at init
 * (flb_input_set_collector_time(), every 25 ms like the emitter's own; the
 * engine starts it with the other collectors), appends them with
 * flb_input_log_append() from the event loop, outside any other append —
 * what the emitter's collector does with its queue. The engine's pause at
 * shutdown pauses only the emitter's own collector (cb_emitter_pause()
 * pauses ctx->coll_fd), and does not mark the emitter's buffer as paused:
 * this collector keeps running through the Grace period and its appends
 * succeed, so the stash is in chunks before the engine's first shutdown
 * check, a second later. While the emitter's buffer is paused (over
 * emitter_mem_buf_limit or its storage limit) an append fails and the
 * records wait in the stash; what is still there at exit is counted and
 * logged as lost.
 */
static int cb_flush_stash(struct flb_input_instance *ins, struct flb_config *config, void *context)
{
    (void) config;
    (void) context;
    goOpsworksFlush(ins);
    return 0;
}

int opsworks_start_flusher(struct flb_input_instance *emitter, struct flb_config *config)
{
    if (!flb_input_set_collector_time) {
        return -1;
    }
    return flb_input_set_collector_time(emitter, cb_flush_stash, 0, 25000000L, config);
}

/* Appends records to the emitter: 0, or -1 when it refuses (paused). */
int opsworks_append(struct flb_input_instance *emitter, const char *tag, int tag_len,
                    const char *buf, size_t size)
{
    return flb_input_log_append(emitter, tag, (size_t) tag_len, buf, size) == 0 ? 0 : -1;
}

/* Creates the emitter input exactly like rewrite_tag's emitter_create(). */
struct flb_input_instance *opsworks_emitter_create(struct flb_config *config, const char *name,
                                                   const char *storage_type,
                                                   const char *mem_buf_limit,
                                                   char *err, size_t err_size)
{
    struct flb_input_instance *in;
    void *cio;

    if (!flb_input_new || !flb_input_set_property || !flb_input_instance_init ||
        !flb_storage_input_create || !flb_input_log_append || !flb_input_name_exists ||
        !flb_input_set_collector_time) {
        snprintf(err, err_size, "the host does not export Fluent Bit's emitter API; use 'retag off'");
        return NULL;
    }
    cio = opsworks_config_cio(config, err, err_size);
    if (!cio) {
        return NULL;
    }
    if (flb_input_name_exists(name, config)) {
        snprintf(err, err_size, "emitter_name: '%s' already exists", name);
        return NULL;
    }
    in = flb_input_new(config, "emitter", NULL, 0);
    if (!in) {
        snprintf(err, err_size, "cannot create the emitter input instance");
        return NULL;
    }
    if (flb_input_set_property(in, "alias", name) == -1 ||
        flb_input_set_property(in, "mem_buf_limit", mem_buf_limit) == -1 ||
        flb_input_set_property(in, "storage.type", storage_type) == -1) {
        snprintf(err, err_size, "cannot set emitter properties (emitter_name, emitter_mem_buf_limit, emitter_storage.type)");
        flb_input_instance_destroy(in);
        return NULL;
    }
    if (flb_input_instance_init(in, config) == -1) {
        snprintf(err, err_size, "cannot initialize emitter instance '%s'", name);
        flb_input_instance_exit(in, config);
        flb_input_instance_destroy(in);
        return NULL;
    }
    if (flb_storage_input_create(cio, in) == -1) {
        snprintf(err, err_size, "cannot initialize storage for emitter '%s'", name);
        flb_input_instance_exit(in, config);
        flb_input_instance_destroy(in);
        return NULL;
    }
    return in;
}

/* ---- callbacks ---- */

static int cb_opsworks_init(struct flb_filter_instance *ins, struct flb_config *config, void *data)
{
    (void) data;
    return goOpsworksInit(ins, config);
}

static int cb_opsworks_filter(const void *data, size_t bytes, const char *tag, int tag_len,
                              void **out_buf, size_t *out_bytes,
                              struct flb_filter_instance *f_ins, struct flb_input_instance *i_ins,
                              void *context, struct flb_config *config)
{
    (void) f_ins;
    (void) config;
    return goOpsworksFilter((void *) data, bytes, (char *) tag, tag_len, out_buf, out_bytes,
                            i_ins, (uintptr_t) context);
}

static int cb_opsworks_exit(void *context, struct flb_config *config)
{
    (void) config;
    goOpsworksExit((uintptr_t) context);
    return 0;
}

struct flb_filter_plugin filter_opsworks_plugin = {
    .event_type = FLB_FILTER_LOGS,
    .flags = 0,
    .name = "opsworks",
    .description = "Split CloudTrail logs into tagged, flattened AWS OpsWorks events",
    .config_map = NULL, /* set by build_config_map() at load */
    .cb_init = cb_opsworks_init,
    .cb_filter = cb_opsworks_filter,
    .cb_exit = cb_opsworks_exit,
};
