//go:build ignore

// (The constraint above keeps the go tool from treating this directory as a
// cgo package; the file is built by harness_test.go with gcc.)

/*
 * flb-host: a stand-in for Fluent Bit that loads a native dynamic filter
 * (flb-filter_<name>.so) the way Fluent Bit 5.1.1 does, drives it over chunk
 * files, and prints what happened as JSON lines. CI has no Fluent Bit; the Go
 * tests in this directory (harness_test.go) build the opsworks plugin and
 * this program and assert on the report.
 *
 * Build:
 *   gcc -O1 -g -rdynamic -o flb-host flb-host.c -ldl
 *       Fluent Bit >= 5.0.3: exports flb_config_map_get_raw, 104-byte
 *       struct flb_config_map.
 *   gcc -O1 -g -rdynamic -DHOST_PRE_5_0_3 -o flb-host-pre503 flb-host.c -ldl
 *       Fluent Bit < 5.0.3: no flb_config_map_get_raw, 96-byte elements
 *       (struct flb_config_map_val has no `raw`).
 *   -rdynamic exports the host's symbols to the plugin, as the fluent-bit
 *   executable does (`nm -D fluent-bit` lists flb_filter_get_property etc.).
 *
 * Usage:
 *   flb-host [options] PLUGIN.so [CHUNKFILE...]
 *     -p KEY=VALUE       filter property, as a line of the [FILTER] section
 *                        (repeatable; match/alias/log_level are core keys)
 *     -t, --tag TAG      tag the chunks arrive with (default "ct")
 *     --fail-emitter     flb_input_log_append() on the emitter refuses every
 *                        record (-1, as for a paused emitter)
 *     --emitter-ret N    flb_input_log_append() on the emitter returns N
 *                        instead of 0
 *     --cio-offset N     put config->cio at byte offset N of struct
 *                        flb_config (default 1192 = Fluent Bit 5.1.1; any
 *                        other value exercises the plugin's scan fallback)
 *     --no-cio           config->cio is NULL and no chunkio context exists
 *     --storage-path DIR cio root path (storage.path); without it a
 *                        filesystem emitter cannot get storage, as in
 *                        Fluent Bit
 *     --no-reinject      skip the re-injection calls (see 8. below)
 *     --log-level LEVEL  Fluent Bit's log_level (off|error|warn|info|debug|
 *                        trace, default info); log lines above it are
 *                        marked "above_level" (see 10. below)
 *   A CHUNKFILE holds the raw msgpack bytes of Fluent Bit log events, i.e.
 *   what flb_filter_do() passes to cb_filter.
 *
 * Report (stdout, one JSON object per line; human-readable echo of the
 * logs on stderr). Every line has "event":
 *   load            symbol, plugin name/description/event_type, callbacks,
 *                   host_has_get_raw (whether this host exports
 *                   flb_config_map_get_raw)
 *   config_map      element_size, keys, entries [{name,type,flags,default,
 *                   desc}]
 *   property        key, value as accepted by flb_filter_set_property
 *   log             origin ("plugin" for flb_log_print, "host" for the
 *                   messages Fluent Bit itself would print), level, msg,
 *                   above_level (level > --log-level: Fluent Bit's own
 *                   logging macros would not have printed it)
 *   property_check  ret (-1: Fluent Bit refuses to start, exit code 1)
 *   input_new / input_set_property / input_instance_init /
 *   input_instance_exit / input_instance_destroy / storage_input_create /
 *   input_name_exists   every call of the input API, with its arguments/ret
 *   init            ret, context_set, filter name
 *   emitter_created name, plugin, props {alias, mem_buf_limit,
 *                   storage.type, ...}, mem_buf_limit_bytes, storage_type
 *   filter          chunk, tag, in_size, ret, out_size, out_hex
 *   emit            chunk, tag, size, hex, ret, ins (the emitter appended to)
 *   reinject        chunk, source ("emit" or "chunk"), tag, ret, out_size,
 *                   out_hex: the same filter called with i_ins == emitter
 *   violation       msg: a breach of the plugin contract (see below)
 *   exit            called, ret
 *   done            status, violations
 * Exit status: 0 ok; 1 Fluent Bit would refuse to start (load, property or
 * init failure); 2 usage or I/O error; 3 the run completed but the plugin
 * breached its contract (violation lines).
 *
 * What each part mirrors (paths relative to the fluent-bit 5.1.1 tree):
 *  1. Loading: src/flb_plugin.c flb_plugin_load(): get_handle() dlopen(path,
 *     RTLD_LAZY); path_to_plugin_name() derives "filter_<name>_plugin" from
 *     the basename ("flb-" prefix, ".so" suffix); load_symbol() dlerror() +
 *     dlsym(); memcpy() into a host-owned struct flb_filter_plugin (layout of
 *     include/fluent-bit/flb_filter.h). Teardown: flb_plugin_destroy() ->
 *     dlclose() after filters and inputs are gone (src/flb_engine.c
 *     flb_engine_shutdown(), src/flb_config.c flb_config_exit()).
 *  2. Instance: src/flb_filter.c flb_filter_new() names it "<plugin>.<id>"
 *     ("opsworks.0"); flb_filter_set_property() handles match, match_regex,
 *     alias, log_level, log_suppress_interval itself and stores any other key
 *     in ins->properties (src/flb_kv.c flb_kv_item_create, duplicates kept);
 *     flb_filter_get_property() is flb_kv_get_key_value(): exact length,
 *     case-insensitive, first match; flb_filter_name() returns the alias if
 *     set, else the numbered name; flb_filter_set_context() stores context.
 *  3. Config map: include/fluent-bit/flb_config_map.h struct flb_config_map
 *     (struct flb_config_map_val gained `raw` in 5.0.3, together with
 *     flb_config_map_get_raw()); src/flb_config_map.c flb_config_map_create()
 *     walks the plugin's static array with `m++` (so with this host's element
 *     size) until m->name == NULL; flb_config_map_properties_check() accepts
 *     "active"/"condition", matches names case-insensitively with exact
 *     length (prefix for FLB_CONFIG_MAP_STR_PREFIX), and fails with
 *     "[config] <plugin>: unknown configuration property '<key>'. The
 *     following properties are allowed: a, b, and c." (helper_map_options())
 *     or "configuration property '<key>' is set <n> times" (property_count()
 *     counts repeats case-sensitively). The wording was checked against the
 *     fluent-bit 5.1.1 binary.
 *  4. Init: src/flb_filter.c flb_filter_init(): a filter without Match is
 *     unloaded (the host assumes "Match *" unless -p match= is given);
 *     property check against the config map, then cb_pre_run, then
 *     cb_init(ins, config, ins->data); non-zero -> "Failed initialize filter
 *     <name>" and Fluent Bit exits.
 *  5. Emitter input API (what plugins/filter_rewrite_tag/rewrite_tag.c
 *     emitter_create() uses): src/flb_input.c flb_input_new() (name
 *     "<plugin>.<id>"), flb_input_set_property() (alias; mem_buf_limit via
 *     src/flb_utils.c flb_utils_size_to_bytes(), -1 if invalid; storage.type
 *     memory|filesystem|memrb, else -1; other keys stored), flb_input_instance
 *     _init() (unknown properties rejected against the input core map + the
 *     emitter's config map, as flb_input_instance_init() does),
 *     flb_input_instance_exit(), flb_input_instance_destroy(),
 *     flb_input_name_exists() (compares name and alias); src/flb_storage.c
 *     flb_storage_input_create(config->cio, in) (filesystem storage without
 *     storage.path fails with Fluent Bit's message).
 *  6. config->cio: include/fluent-bit/flb_config.h struct flb_config holds
 *     `struct cio_ctx *cio` at offset 1192 in 5.1.1 (x86_64, official build);
 *     it points at chunkio's struct cio_ctx (lib/chunkio/include/chunkio/
 *     chunkio.h) as src/flb_storage.c flb_storage_create() -> cio_create()
 *     leaves it: page_size = system page size, options.initialized = 1,
 *     options.log_level = CIO_LOG_INFO, options.log_cb set, max_chunks_up =
 *     FLB_STORAGE_MAX_CHUNKS_UP (128), streams list initialized. The rest of
 *     the fake flb_config holds decoys (self-referencing list heads, pointers
 *     to near-miss cio_ctx lookalikes, unmapped and misaligned pointers) so
 *     the plugin's scan has something to reject.
 *  7. Emitting: the plugin appends re-tagged records to the emitter input
 *     with src/flb_input_log.c flb_input_log_append(ins, tag, tag_len, buf,
 *     size) (plugin/opsworks/opsworks.c says why not in_emitter_add_record):
 *     the bytes are copied into the instance's chunk and 0 returned; it
 *     returns -1 when the instance is paused (flb_input_paused(), e.g. over
 *     its mem_buf_limit), which --fail-emitter / --emitter-ret simulate.
 *     The plugin appends from a timer collector it registers on the emitter
 *     (flb_input_set_collector_time(), reported as "collector"), which the
 *     host runs after each chunk and once more before the filter's exit.
 *  8. Filtering: src/flb_filter.c flb_filter_do(): cb_filter(data, bytes,
 *     ntag (a malloc'd NUL-terminated copy), tag_len, &out_buf, &out_size,
 *     f_ins, i_ins, f_ins->context, config) with out_buf = NULL, out_size =
 *     0; FLB_FILTER_MODIFIED (1) replaces the data with out_buf, which the
 *     engine later releases with flb_free() == free(), exactly once; out_size
 *     0 means every record was removed; FLB_FILTER_NOTOUCH (2) keeps the
 *     data. i_ins is the input that produced the chunk (a fake "tail.0").
 *     When the filter's Match also covers the tags it emits, the emitter's
 *     chunks come back through the same filter with i_ins == the emitter
 *     (Fluent Bit runs them through the filters inside the append): after
 *     each chunk the host re-injects every emitted batch under its tag, and
 *     the original chunk, with i_ins == emitter.
 *  9. Exit: src/flb_filter.c flb_filter_instance_exit(): cb_exit(context,
 *     config) only if cb_exit and context are set; flb_engine_shutdown()
 *     runs flb_filter_exit() before flb_input_exit_all() (emitter destroyed
 *     after the filter's exit).
 * 10. Logging: src/flb_log.c flb_log_print(type, file, line, fmt, ...)
 *     formats with the varargs into a 4088-byte body (struct log_message),
 *     levels FLB_LOG_ERROR 1, WARN 2, INFO 3, DEBUG 4, TRACE 5. It prints
 *     unconditionally: the level check is in the callers' macros
 *     (include/fluent-bit/flb_log.h flb_log_check(), which reads the level
 *     through flb_worker_get()/flb_worker_log_level(), both exported and
 *     provided here too).
 *
 * Contract checks (reported as "violation"): cb_filter returns something
 * other than 1 or 2; a buffer is returned with NOTOUCH (Fluent Bit would leak
 * it); MODIFIED with out_size > 0 but no buffer; out_buf aliasing the input;
 * Fluent Bit API called with a filter instance, config, input or cio pointer
 * the host never handed out; flb_input_log_append on an emitter that was not
 * fully created; a config map entry whose name is unreadable (element size
 * mismatch) or whose type is unknown. The host frees each out_buf with
 * free(); memcheck_test.go runs it built with -fsanitize=address and under
 * valgrind (Go runtime noise suppressed) to prove buffers are freed exactly
 * once and the input chunk never is.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Fluent Bit ABI, as in the 5.1.1 headers                                   */
/* ------------------------------------------------------------------------ */

struct mk_list {
    struct mk_list *prev, *next;
};

struct flb_config;
struct flb_filter_instance;
struct flb_input_instance;

#define FLB_FILTER_LOGS     1
#define FLB_FILTER_MODIFIED 1
#define FLB_FILTER_NOTOUCH  2

/* include/fluent-bit/flb_filter.h */
struct flb_filter_plugin {
    int event_type;
    int flags;
    char *name;
    char *description;
    struct flb_config_map *config_map;
    int (*cb_pre_run)(struct flb_filter_instance *, struct flb_config *, void *);
    int (*cb_init)(struct flb_filter_instance *, struct flb_config *, void *);
    int (*cb_filter)(const void *, size_t, const char *, int, void **, size_t *,
                     struct flb_filter_instance *, struct flb_input_instance *,
                     void *, struct flb_config *);
    int (*cb_exit)(void *, struct flb_config *);
    int (*cb_notification)(struct flb_filter_instance *, struct flb_config *, void *);
    struct mk_list _head;
};

/* include/fluent-bit/flb_config_map.h */
#define FLB_CONFIG_MAP_STR        0
#define FLB_CONFIG_MAP_STR_PREFIX 1
#define FLB_CONFIG_MAP_DEPRECATED 7
#define FLB_CONFIG_MAP_MULT       1

struct flb_config_map_val {
    union {
        int i_num;
        int boolean;
        double d_num;
        size_t s_num;
        char *str;
        struct mk_list *list;
        void *variant;
    } val;
#ifndef HOST_PRE_5_0_3
    char *raw; /* added in 5.0.3 */
#endif
    struct mk_list *mult;
    struct mk_list _head;
};

struct flb_config_map {
    int type;
    char *name;
    char *def_value;
    int flags;
    int set_property;
    uintptr_t offset;
    char *desc;
    struct flb_config_map_val value;
    struct mk_list _head;
};

#ifdef HOST_PRE_5_0_3
_Static_assert(sizeof(struct flb_config_map) == 96, "pre-5.0.3 flb_config_map is 96 bytes");
#define HOST_VARIANT "pre-5.0.3"
#else
_Static_assert(sizeof(struct flb_config_map) == 104, "5.0.3+ flb_config_map is 104 bytes");
#define HOST_VARIANT "5.0.3+"
/* src/flb_config_map.c; its presence is what plugins probe for. */
const char *flb_config_map_get_raw(struct flb_config_map *map)
{
    return map ? map->value.raw : NULL;
}
#endif

/* lib/chunkio/include/chunkio/chunkio.h */
#define CIO_LOG_INFO 3
struct cio_ctx;
struct cio_options {
    int initialized;
    int flags;
    char *root_path;
    int log_level;
    int (*log_cb)(struct cio_ctx *, int, const char *, int, char *);
    char *user;
    char *group;
    char *chmod;
    int realloc_size_hint;
};
struct cio_ctx {
    int page_size;
    int realloc_size_hint;
    struct cio_options options;
    void *processed_user;
    void *processed_group;
    size_t total_chunks;
    size_t total_chunks_up;
    size_t max_chunks_up;
    struct mk_list streams;
    int last_chunk_error;
};
#define FLB_STORAGE_MAX_CHUNKS_UP 128

/* struct flb_config: opaque to plugins except for `cio`. */
#define FLB_CONFIG_CIO_OFFSET_5_1_1 1192
#define FAKE_CONFIG_SIZE            8192
struct flb_config {
    _Alignas(16) unsigned char bytes[FAKE_CONFIG_SIZE];
};

/* Host-side instances. The plugin only passes these pointers back. */
struct kv {
    char *key;
    char *val;
};
struct kvlist {
    struct kv *items;
    int n, cap;
};

struct flb_filter_instance {
    char name[32];
    char *alias;
    char *match;
    int log_level;
    struct kvlist properties;
    void *context;
    int context_set;
    void *data;
    struct flb_filter_plugin *p;
};

#define FLB_STORAGE_FS    0
#define FLB_STORAGE_MEM   1
#define FLB_STORAGE_MEMRB 2

struct flb_input_instance {
    char name[32];
    char *alias;
    const char *plugin;
    long long mem_buf_limit;
    int storage_type;
    struct kvlist properties; /* every property as set, in order */
    int initialized;
    int storage_created;
    int exited;
};

/* ------------------------------------------------------------------------ */
/* Report                                                                    */
/* ------------------------------------------------------------------------ */

struct sb {
    char *s;
    size_t n, cap;
};

static void sb_grow(struct sb *b, size_t extra)
{
    if (b->n + extra + 1 <= b->cap) {
        return;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra + 1) {
        cap *= 2;
    }
    b->s = realloc(b->s, cap);
    if (!b->s) {
        perror("flb-host: realloc");
        exit(2);
    }
    b->cap = cap;
}

static void sb_putn(struct sb *b, const char *s, size_t n)
{
    sb_grow(b, n);
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_puts(struct sb *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static void sb_printf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    sb_grow(b, (size_t) n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t) n;
}

/* JSON string; bytes >= 0x80 are copied (UTF-8 expected). */
static void sb_json_strn(struct sb *b, const char *s, size_t n)
{
    if (!s) {
        sb_puts(b, "null");
        return;
    }
    sb_putn(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        switch (c) {
        case '"':
            sb_puts(b, "\\\"");
            break;
        case '\\':
            sb_puts(b, "\\\\");
            break;
        case '\n':
            sb_puts(b, "\\n");
            break;
        case '\r':
            sb_puts(b, "\\r");
            break;
        case '\t':
            sb_puts(b, "\\t");
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                sb_printf(b, "\\u%04x", c);
            }
            else {
                sb_putn(b, (const char *) &c, 1);
            }
        }
    }
    sb_putn(b, "\"", 1);
}

static void sb_json_str(struct sb *b, const char *s)
{
    sb_json_strn(b, s, s ? strlen(s) : 0);
}

static void sb_hex(struct sb *b, const void *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *u = p;
    sb_grow(b, 2 * n + 2);
    b->s[b->n++] = '"';
    for (size_t i = 0; i < n; i++) {
        b->s[b->n++] = digits[u[i] >> 4];
        b->s[b->n++] = digits[u[i] & 15];
    }
    b->s[b->n++] = '"';
    b->s[b->n] = '\0';
}

/* A report line under construction: rep_begin("x"), rep_* fields, rep_end(). */
static struct sb line;

static void rep_begin(const char *event)
{
    line.n = 0;
    sb_puts(&line, "{\"event\":");
    sb_json_str(&line, event);
}

static void rep_key(const char *key)
{
    sb_putn(&line, ",", 1);
    sb_json_str(&line, key);
    sb_putn(&line, ":", 1);
}

static void rep_str(const char *key, const char *v)
{
    rep_key(key);
    sb_json_str(&line, v);
}

static void rep_strn(const char *key, const char *v, size_t n)
{
    rep_key(key);
    sb_json_strn(&line, v, n);
}

static void rep_int(const char *key, long long v)
{
    rep_key(key);
    sb_printf(&line, "%lld", v);
}

static void rep_bool(const char *key, int v)
{
    rep_key(key);
    sb_puts(&line, v ? "true" : "false");
}

static void rep_hex(const char *key, const void *p, size_t n)
{
    rep_key(key);
    sb_hex(&line, p, n);
}

static void rep_kvlist(const char *key, const struct kvlist *l)
{
    rep_key(key);
    sb_putn(&line, "{", 1);
    for (int i = 0; i < l->n; i++) {
        if (i) {
            sb_putn(&line, ",", 1);
        }
        sb_json_str(&line, l->items[i].key);
        sb_putn(&line, ":", 1);
        sb_json_str(&line, l->items[i].val);
    }
    sb_putn(&line, "}", 1);
}

static void rep_end(void)
{
    sb_putn(&line, "}\n", 2);
    flockfile(stdout);
    fwrite(line.s, 1, line.n, stdout);
    fflush(stdout);
    funlockfile(stdout);
}

/* Report lines may be started while another is being built (the plugin logs
 * from inside a callback the host is reporting on), so callbacks build their
 * lines in a private buffer. */
struct saved_line {
    struct sb saved;
};

static void line_push(struct saved_line *s)
{
    s->saved = line;
    memset(&line, 0, sizeof(line));
}

static void line_pop(struct saved_line *s)
{
    free(line.s);
    line = s->saved;
}

static int violations;

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    struct saved_line sl;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    violations++;
    fprintf(stderr, "flb-host: VIOLATION: %s\n", msg);
    line_push(&sl);
    rep_begin("violation");
    rep_str("msg", msg);
    rep_end();
    line_pop(&sl);
}

/* ------------------------------------------------------------------------ */
/* Logging: src/flb_log.c                                                    */
/* ------------------------------------------------------------------------ */

#define FLB_LOG_ERROR 1
#define FLB_LOG_WARN  2
#define FLB_LOG_INFO  3
#define FLB_LOG_BODY  (4096 - sizeof(size_t)) /* struct log_message.msg */

static const char *level_name(int level)
{
    switch (level) {
    case 1: return "error";
    case 2: return "warn";
    case 3: return "info";
    case 4: return "debug";
    case 5: return "trace";
    case 6: return "help";
    }
    return "unknown";
}

/* [SERVICE] log_level (FLB_LOG_INFO by default), see flb_worker_log_level(). */
static int host_log_level = FLB_LOG_INFO;

static void log_line(const char *origin, int level, const char *file, int line_no,
                     const char *fmt, va_list ap)
{
    char body[FLB_LOG_BODY];
    struct saved_line sl;
    int n = vsnprintf(body, sizeof(body), fmt, ap);

    fprintf(stderr, "[%s] [%5s] %s\n", origin, level_name(level), body);
    line_push(&sl);
    rep_begin("log");
    rep_str("origin", origin);
    rep_int("level", level);
    rep_str("level_name", level_name(level));
    if (file) {
        rep_str("file", file);
        rep_int("line", line_no);
    }
    rep_str("msg", body);
    /* Fluent Bit's own flb_error()/flb_info()... check flb_log_check()
     * first; flb_log_print() itself prints whatever it is given. */
    rep_bool("above_level", level > host_log_level);
    if (n >= (int) sizeof(body)) {
        rep_bool("truncated", 1);
    }
    rep_end();
    line_pop(&sl);
}

void flb_log_print(int type, const char *file, int line_no, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line("plugin", type, file, line_no, fmt, ap);
    va_end(ap);
}

/* src/flb_worker.c: what flb_log_check() (include/fluent-bit/flb_log.h) uses
 * to honour the log level. The filter runs on a worker thread (the engine's
 * or a threaded input's), so flb_worker_get() is never NULL there. */
static int fake_worker;
void *flb_worker_get(void)
{
    return &fake_worker;
}

int flb_worker_log_level(void *worker)
{
    if (worker != &fake_worker) {
        return FLB_LOG_INFO;
    }
    return host_log_level;
}

/* Messages Fluent Bit itself prints (flb_error() etc. in the core). */
static void host_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void host_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line("host", level, NULL, 0, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* Host state                                                                */
/* ------------------------------------------------------------------------ */

static struct flb_config *config;
static struct cio_ctx *cio;
static struct cio_ctx decoy_no_level, decoy_no_streams;
static struct flb_filter_instance *f_ins;
static struct flb_input_instance *inputs[16];
static int n_inputs;
static int next_input_id;
static struct flb_input_instance *emitter; /* the emitter the plugin created */
static int emitter_ret;                    /* what flb_input_log_append on the emitter returns */
static const char *current_chunk = "";

/* Batches the emitter accepted during the current chunk (for re-injection). */
struct batch {
    char *tag;
    char *buf;
    size_t size;
};
static struct batch *batches;
static int n_batches, cap_batches;

static char *xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d) {
        perror("flb-host: strdup");
        exit(2);
    }
    return d;
}

static void kv_add(struct kvlist *l, const char *k, const char *v)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->items = realloc(l->items, (size_t) l->cap * sizeof(*l->items));
        if (!l->items) {
            perror("flb-host: realloc");
            exit(2);
        }
    }
    l->items[l->n].key = xstrdup(k);
    l->items[l->n].val = v ? xstrdup(v) : NULL;
    l->n++;
}

static void kv_free(struct kvlist *l)
{
    for (int i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].val);
    }
    free(l->items);
    memset(l, 0, sizeof(*l));
}

/* src/flb_kv.c flb_kv_get_key_value() */
static const char *kv_get(const struct kvlist *l, const char *key)
{
    size_t len;
    if (!key || (len = strlen(key)) == 0) {
        return NULL;
    }
    for (int i = 0; i < l->n; i++) {
        if (strlen(l->items[i].key) == len && strncasecmp(l->items[i].key, key, len) == 0) {
            return l->items[i].val;
        }
    }
    return NULL;
}

static int kv_count(const struct kvlist *l, const char *key)
{
    int count = 0;
    for (int i = 0; i < l->n; i++) {
        if (strcmp(l->items[i].key, key) == 0) {
            count++;
        }
    }
    return count;
}

/* src/flb_filter.c prop_key_check() */
static int prop_is(const char *key, const char *k)
{
    return strlen(key) == strlen(k) && strcasecmp(key, k) == 0;
}

/* Whether len bytes at p can be read (the kernel checks, nothing faults). */
static int readable(const void *p, size_t len)
{
    int fds[2];
    ssize_t n;

    if (p == NULL || pipe(fds) != 0) {
        return 0;
    }
    n = write(fds[1], p, len);
    close(fds[0]);
    close(fds[1]);
    return n == (ssize_t) len;
}

/* A readable NUL-terminated string of at most max bytes. */
static int readable_str(const char *s, size_t max)
{
    for (size_t i = 0; i < max; i++) {
        if (!readable(s + i, 1)) {
            return 0;
        }
        if (s[i] == '\0') {
            return 1;
        }
    }
    return 0;
}

static int input_known(const struct flb_input_instance *in)
{
    for (int i = 0; i < n_inputs; i++) {
        if (inputs[i] == in) {
            return 1;
        }
    }
    return 0;
}

static void check_config(const char *fn, const struct flb_config *c)
{
    if (c != config) {
        violation("%s called with config %p, not the one the host passed (%p)", fn,
                  (const void *) c, (void *) config);
    }
}

static void check_filter(const char *fn, const struct flb_filter_instance *ins)
{
    if (ins != f_ins) {
        violation("%s called with filter instance %p, not the host's (%p)", fn,
                  (const void *) ins, (void *) f_ins);
    }
}

/* ------------------------------------------------------------------------ */
/* Filter API: src/flb_filter.c                                              */
/* ------------------------------------------------------------------------ */

const char *flb_filter_get_property(const char *key, struct flb_filter_instance *ins)
{
    check_filter("flb_filter_get_property", ins);
    if (ins != f_ins) {
        return NULL;
    }
    return kv_get(&ins->properties, key);
}

void flb_filter_set_context(struct flb_filter_instance *ins, void *context)
{
    check_filter("flb_filter_set_context", ins);
    if (ins != f_ins) {
        return;
    }
    ins->context = context;
    ins->context_set = 1;
}

const char *flb_filter_name(struct flb_filter_instance *ins)
{
    check_filter("flb_filter_name", ins);
    if (ins != f_ins) {
        return "unknown";
    }
    return ins->alias ? ins->alias : ins->name;
}

/* flb_filter_set_property() */
static int filter_set_property(struct flb_filter_instance *ins, const char *k, const char *v)
{
    if (!v) {
        return -1;
    }
    if (prop_is("match", k)) {
        free(ins->match);
        ins->match = xstrdup(v);
    }
    else if (prop_is("match_regex", k)) {
        /* regex matching is not modelled: treat it as a match rule */
        free(ins->match);
        ins->match = xstrdup(v);
    }
    else if (prop_is("alias", k)) {
        free(ins->alias);
        ins->alias = xstrdup(v);
    }
    else if (prop_is("log_level", k)) {
        static const char *levels[] = {"off", "error", "warn", "info", "debug", "trace"};
        int found = -1;
        for (int i = 0; i < 6; i++) {
            if (strcasecmp(v, levels[i]) == 0) {
                found = i;
            }
        }
        if (found < 0) {
            return -1;
        }
        ins->log_level = found;
    }
    else if (prop_is("log_suppress_interval", k)) {
        /* accepted, not modelled */
    }
    else {
        kv_add(&ins->properties, k, v);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Input API: src/flb_input.c, src/flb_storage.c                             */
/* ------------------------------------------------------------------------ */

/* src/flb_utils.c flb_utils_size_to_bytes() (K = 1000). */
static long long size_to_bytes(const char *size)
{
    int len, plen = 0;
    double val;
    char tmp[3] = {0};
    const long long KB = 1000, MB = 1000 * KB, GB = 1000 * MB;

    if (!size) {
        return -1;
    }
    if (strcasecmp(size, "false") == 0) {
        return 0;
    }
    len = (int) strlen(size);
    val = atof(size);
    if (len == 0) {
        return -1;
    }
    for (int i = len - 1; i > 0; i--) {
        if (isdigit((unsigned char) size[i])) {
            break;
        }
        plen++;
    }
    if (plen == 0) {
        return (long long) val;
    }
    if (plen > 2) {
        return -1;
    }
    for (int i = 0; i < plen; i++) {
        tmp[i] = (char) toupper((unsigned char) size[(len - plen) + i]);
    }
    if (plen == 2 && tmp[1] != 'B') {
        return -1;
    }
    switch (tmp[0]) {
    case 'K':
        return (long long) (val * KB);
    case 'M':
        return (long long) (val * MB);
    case 'G':
        return (long long) (val * GB);
    }
    return -1;
}

static const char *storage_type_name(int t)
{
    switch (t) {
    case FLB_STORAGE_FS: return "filesystem";
    case FLB_STORAGE_MEM: return "memory";
    case FLB_STORAGE_MEMRB: return "memrb";
    }
    return "default";
}

static struct flb_input_instance *input_add(const char *plugin)
{
    struct flb_input_instance *in;

    if (n_inputs == (int) (sizeof(inputs) / sizeof(inputs[0]))) {
        return NULL;
    }
    in = calloc(1, sizeof(*in));
    if (!in) {
        return NULL;
    }
    snprintf(in->name, sizeof(in->name) - 1, "%s.%i", plugin, next_input_id++);
    in->plugin = plugin;
    in->storage_type = -1;
    inputs[n_inputs++] = in;
    return in;
}

static void input_remove(struct flb_input_instance *in)
{
    for (int i = 0; i < n_inputs; i++) {
        if (inputs[i] == in) {
            memmove(&inputs[i], &inputs[i + 1], (size_t) (n_inputs - i - 1) * sizeof(inputs[0]));
            n_inputs--;
            break;
        }
    }
    if (in == emitter) {
        emitter = NULL;
    }
    free(in->alias);
    kv_free(&in->properties);
    free(in);
}

struct flb_input_instance *flb_input_new(struct flb_config *c, const char *input, void *data,
                                         int public_only)
{
    struct flb_input_instance *in = NULL;
    struct saved_line sl;

    (void) data;
    check_config("flb_input_new", c);
    if (input && strcmp(input, "emitter") == 0) {
        in = input_add("emitter");
    }
    else {
        /* this host only has the emitter among the plugins a filter may create */
        host_log(FLB_LOG_ERROR, "[input] unknown input plugin '%s'", input ? input : "(null)");
    }
    line_push(&sl);
    rep_begin("input_new");
    rep_str("plugin", input);
    rep_int("public_only", public_only);
    rep_str("name", in ? in->name : NULL);
    rep_end();
    line_pop(&sl);
    return in;
}

int flb_input_set_property(struct flb_input_instance *in, const char *k, const char *v)
{
    int ret = 0;
    struct saved_line sl;

    if (!input_known(in)) {
        violation("flb_input_set_property(%s) on an unknown input instance %p", k, (void *) in);
        return -1;
    }
    if (!k || !v) {
        ret = -1;
    }
    else if (prop_is("alias", k)) {
        free(in->alias);
        in->alias = xstrdup(v);
    }
    else if (prop_is("mem_buf_limit", k)) {
        long long limit = size_to_bytes(v);
        if (limit == -1) {
            ret = -1;
        }
        else {
            in->mem_buf_limit = limit;
        }
    }
    else if (prop_is("storage.type", k)) {
        if (strcasecmp(v, "filesystem") == 0) {
            in->storage_type = FLB_STORAGE_FS;
        }
        else if (strcasecmp(v, "memory") == 0) {
            in->storage_type = FLB_STORAGE_MEM;
        }
        else if (strcasecmp(v, "memrb") == 0) {
            in->storage_type = FLB_STORAGE_MEMRB;
        }
        else {
            ret = -1;
        }
    }
    if (k) {
        kv_add(&in->properties, k, v);
    }
    line_push(&sl);
    rep_begin("input_set_property");
    rep_str("input", in->name);
    rep_str("key", k);
    rep_str("value", v);
    rep_int("ret", ret);
    rep_end();
    line_pop(&sl);
    return ret;
}

/* Input core config map (src/flb_input.c) and in_emitter's own. */
static const char *input_known_props[] = {
    "alias", "tag", "mem_buf_limit", "storage.type", "storage.pause_on_chunks_overlimit",
    "threaded", "thread.ring_buffer.capacity", "thread.ring_buffer.window", "log_level",
    "log_suppress_interval", "routable", "rate_window", "rate_gate",
    "ring_buffer_size", /* plugins/in_emitter/emitter.c */
    NULL,
};

int flb_input_instance_init(struct flb_input_instance *in, struct flb_config *c)
{
    int ret = 0;
    struct saved_line sl;

    check_config("flb_input_instance_init", c);
    if (!input_known(in)) {
        violation("flb_input_instance_init on an unknown input instance %p", (void *) in);
        return -1;
    }
    for (int i = 0; i < in->properties.n && ret == 0; i++) {
        const char *k = in->properties.items[i].key;
        int ok = 0;
        for (int j = 0; input_known_props[j]; j++) {
            if (prop_is(input_known_props[j], k)) {
                ok = 1;
            }
        }
        if (!ok) {
            host_log(FLB_LOG_ERROR, "[config] %s: unknown configuration property '%s'", in->plugin, k);
            ret = -1;
        }
    }
    if (ret == 0) {
        in->initialized = 1;
    }
    line_push(&sl);
    rep_begin("input_instance_init");
    rep_str("input", in->name);
    rep_int("ret", ret);
    rep_end();
    line_pop(&sl);
    return ret;
}

void flb_input_instance_exit(struct flb_input_instance *in, struct flb_config *c)
{
    struct saved_line sl;

    check_config("flb_input_instance_exit", c);
    if (!input_known(in)) {
        violation("flb_input_instance_exit on an unknown input instance %p", (void *) in);
        return;
    }
    in->exited = 1;
    line_push(&sl);
    rep_begin("input_instance_exit");
    rep_str("input", in->name);
    rep_end();
    line_pop(&sl);
}

void flb_input_instance_destroy(struct flb_input_instance *in)
{
    struct saved_line sl;

    if (!input_known(in)) {
        violation("flb_input_instance_destroy on an unknown input instance %p", (void *) in);
        return;
    }
    line_push(&sl);
    rep_begin("input_instance_destroy");
    rep_str("input", in->name);
    rep_end();
    line_pop(&sl);
    input_remove(in);
}

int flb_input_name_exists(const char *name, struct flb_config *c)
{
    int found = 0;
    struct saved_line sl;

    check_config("flb_input_name_exists", c);
    for (int i = 0; i < n_inputs && name; i++) {
        if (strcmp(inputs[i]->name, name) == 0 ||
            (inputs[i]->alias && strcmp(inputs[i]->alias, name) == 0)) {
            found = 1;
        }
    }
    line_push(&sl);
    rep_begin("input_name_exists");
    rep_str("name", name);
    rep_bool("ret", found);
    rep_end();
    line_pop(&sl);
    return found;
}

int flb_storage_input_create(struct cio_ctx *ctx, struct flb_input_instance *in)
{
    int ret = 0;
    struct saved_line sl;

    if (!input_known(in)) {
        violation("flb_storage_input_create on an unknown input instance %p", (void *) in);
        return -1;
    }
    if (ctx == NULL || ctx != cio) {
        violation("flb_storage_input_create called with cio %p, but config->cio is %p",
                  (void *) ctx, (void *) cio);
        ret = -1;
    }
    else {
        if (in->storage_type == -1) {
            in->storage_type = FLB_STORAGE_MEM;
        }
        if (in->storage_type == FLB_STORAGE_FS && ctx->options.root_path == NULL) {
            host_log(FLB_LOG_ERROR,
                     "[storage] instance '%s' requested filesystem storage "
                     "but no filesystem path was defined.",
                     in->alias ? in->alias : in->name);
            ret = -1;
        }
        else {
            in->storage_created = 1;
        }
    }
    line_push(&sl);
    rep_begin("storage_input_create");
    rep_str("input", in->name);
    rep_bool("cio_ok", ctx != NULL && ctx == cio);
    rep_str("storage_type", storage_type_name(in->storage_type));
    rep_int("ret", ret);
    rep_end();
    line_pop(&sl);
    if (ret == 0 && strcmp(in->plugin, "emitter") == 0 && in->initialized) {
        emitter = in;
    }
    return ret;
}

/* src/flb_input.c: a timer collector on an input instance. The plugin
 * registers one on its emitter (its flusher, see plugin/opsworks/opsworks.c);
 * the engine starts it with the others and runs it every interval from the
 * event loop. Here it runs after each chunk's filter call ("8." below), and
 * once more before the filter's exit (the Grace period). */
typedef int (*collect_cb)(struct flb_input_instance *, struct flb_config *, void *);
#define MAX_COLLECTORS 8
static collect_cb collectors[MAX_COLLECTORS];
static struct flb_input_instance *collector_ins[MAX_COLLECTORS];
static int n_collectors;

int flb_input_set_collector_time(struct flb_input_instance *ins, collect_cb cb, time_t seconds,
                                 long nanoseconds, struct flb_config *cfg)
{
    struct saved_line sl;
    int id = -1;

    if (ins == NULL || ins != emitter || !ins->initialized || !ins->storage_created) {
        violation("flb_input_set_collector_time on %p, which is not a fully created emitter (%p)",
                  (void *) ins, (void *) emitter);
    }
    else if (cfg != config || cb == NULL || seconds < 0 || nanoseconds < 0 ||
             (seconds == 0 && nanoseconds == 0)) {
        violation("flb_input_set_collector_time with config %p, callback %p, interval %lds %ldns",
                  (void *) cfg, (void *) cb, (long) seconds, nanoseconds);
    }
    else if (n_collectors < MAX_COLLECTORS) {
        collectors[n_collectors] = cb;
        collector_ins[n_collectors] = ins;
        id = n_collectors++;
    }
    line_push(&sl);
    rep_begin("collector");
    rep_int("interval_ns", (long long) seconds * 1000000000LL + nanoseconds);
    rep_int("ret", id);
    rep_end();
    line_pop(&sl);
    return id;
}

static void run_collectors(void)
{
    for (int i = 0; i < n_collectors; i++) {
        collectors[i](collector_ins[i], config, NULL);
    }
}

/* src/flb_input_log.c: the plugin appends re-tagged records to its emitter. */
int flb_input_log_append(struct flb_input_instance *in, const char *tag, size_t tag_len,
                         const void *buf_data, size_t buf_size)
{
    int ret = emitter_ret;
    struct saved_line sl;

    if (in == NULL || in != emitter || !in->initialized || !in->storage_created) {
        violation("flb_input_log_append on %p, which is not a fully created emitter (%p)",
                  (void *) in, (void *) emitter);
        return -1;
    }
    if (tag == NULL || tag_len == 0 || tag_len > 4096 || buf_data == NULL || buf_size == 0 ||
        !readable(buf_data, buf_size)) {
        violation("flb_input_log_append with tag %p/%zu, buffer %p/%zu", (const void *) tag, tag_len,
                  (const void *) buf_data, buf_size);
        return -1;
    }
    line_push(&sl);
    rep_begin("emit");
    rep_str("chunk", current_chunk);
    rep_strn("tag", tag, tag_len);
    rep_int("size", (long long) buf_size);
    rep_str("ins", in->name);
    rep_int("ret", ret);
    rep_hex("hex", buf_data, buf_size);
    rep_end();
    line_pop(&sl);
    if (ret == 0) {
        if (n_batches == cap_batches) {
            cap_batches = cap_batches ? 2 * cap_batches : 8;
            batches = realloc(batches, (size_t) cap_batches * sizeof(*batches));
            if (!batches) {
                perror("flb-host: realloc");
                exit(2);
            }
        }
        struct batch *b = &batches[n_batches++];
        b->tag = strndup(tag, tag_len);
        b->buf = malloc(buf_size);
        if (!b->tag || !b->buf) {
            perror("flb-host: malloc");
            exit(2);
        }
        memcpy(b->buf, buf_data, buf_size);
        b->size = buf_size;
    }
    return ret;
}

/* ------------------------------------------------------------------------ */
/* Fake struct flb_config with config->cio                                   */
/* ------------------------------------------------------------------------ */

static int cio_log_cb(struct cio_ctx *ctx, int level, const char *file, int line_no, char *str)
{
    (void) ctx;
    (void) level;
    (void) file;
    (void) line_no;
    (void) str;
    return 0;
}

static void put_ptr(size_t offset, const void *p)
{
    memcpy(config->bytes + offset, &p, sizeof(p));
}

static void cio_init_like_cio_create(struct cio_ctx *c, const char *root_path)
{
    memset(c, 0, sizeof(*c));
    c->page_size = (int) sysconf(_SC_PAGESIZE);
    c->realloc_size_hint = 0;
    c->options.initialized = 1;
    c->options.root_path = (char *) root_path;
    c->options.log_level = CIO_LOG_INFO;
    c->options.log_cb = cio_log_cb;
    c->max_chunks_up = FLB_STORAGE_MAX_CHUNKS_UP;
    c->streams.prev = c->streams.next = &c->streams;
}

/* Builds config; cio_offset < 0: no storage context at all. */
static void config_create(long cio_offset, const char *storage_path)
{
    static const size_t decoys[] = {0, 8, 16, 24, 32, 40, 48, 1176, 1184, 1200, 1208, 2048};

    config = calloc(1, sizeof(*config));
    if (!config) {
        perror("flb-host: calloc");
        exit(2);
    }
    /* near misses: a chunkio-like struct before cio_create() finished, and one
     * whose streams list is not initialized */
    cio_init_like_cio_create(&decoy_no_level, NULL);
    decoy_no_level.options.log_level = 0;
    cio_init_like_cio_create(&decoy_no_streams, NULL);
    decoy_no_streams.streams.prev = decoy_no_streams.streams.next = NULL;

    for (size_t i = 0; i < sizeof(decoys) / sizeof(decoys[0]); i++) {
        size_t off = decoys[i];
        if (cio_offset >= 0 && off + sizeof(void *) > (size_t) cio_offset &&
            off < (size_t) cio_offset + sizeof(void *)) {
            continue;
        }
        switch (i % 6) {
        case 0: /* an initialized mk_list head inside the config */
            put_ptr(off, config->bytes + off);
            break;
        case 1:
            put_ptr(off, &decoy_no_level);
            break;
        case 2:
            put_ptr(off, &decoy_no_streams);
            break;
        case 3: /* unmapped (below mmap_min_addr) */
            put_ptr(off, (const void *) (uintptr_t) 0x1000);
            break;
        case 4: /* misaligned */
            put_ptr(off, (const char *) &decoy_no_level + 4);
            break;
        case 5: /* a string, like config->program_name */
            put_ptr(off, "fluent-bit");
            break;
        }
    }
    if (cio_offset >= 0) {
        cio = calloc(1, sizeof(*cio));
        if (!cio) {
            perror("flb-host: calloc");
            exit(2);
        }
        cio_init_like_cio_create(cio, storage_path);
        put_ptr((size_t) cio_offset, cio);
    }
}

/* ------------------------------------------------------------------------ */
/* Driver                                                                    */
/* ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: flb-host [options] PLUGIN.so [CHUNKFILE...]\n"
            "  -p KEY=VALUE        filter property (repeatable)\n"
            "  -t, --tag TAG       tag of the chunks (default \"ct\")\n"
            "  --fail-emitter      flb_input_log_append() on the emitter returns -1\n"
            "  --emitter-ret N     flb_input_log_append() on the emitter returns N\n"
            "  --cio-offset N      offsetof(struct flb_config, cio) (default %d)\n"
            "  --no-cio            no chunkio context (config->cio == NULL)\n"
            "  --storage-path DIR  storage.path (cio root path)\n"
            "  --no-reinject       do not re-inject emitted records\n"
            "  --log-level LEVEL   [SERVICE] log_level (default info)\n"
            "host variant: Fluent Bit %s, struct flb_config_map of %zu bytes\n",
            FLB_CONFIG_CIO_OFFSET_5_1_1, HOST_VARIANT, sizeof(struct flb_config_map));
}

static char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;

    if (!f) {
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            break;
        }
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *size = n;
    return buf;
}

/* flb_plugin.c path_to_plugin_name(): "…/flb-filter_x.so" -> "filter_x_plugin" */
static char *plugin_symbol_name(const char *path)
{
    char *copy = xstrdup(path);
    char *bname = basename(copy);
    size_t len = strlen(bname);
    char *name = NULL;

    if (len >= strlen("flb-") + strlen(".so") && strncmp(bname, "flb-", 4) == 0 &&
        strcmp(bname + len - 3, ".so") == 0) {
        size_t o_len = len - 4 - 3;
        name = malloc(o_len + strlen("_plugin") + 1);
        if (name) {
            memcpy(name, bname + 4, o_len);
            strcpy(name + o_len, "_plugin");
            if (strncmp(name, "filter_", 7) != 0) {
                host_log(FLB_LOG_ERROR, "[plugin] this host only loads filters: %s", name);
                free(name);
                name = NULL;
            }
        }
    }
    else {
        host_log(FLB_LOG_ERROR, "[plugin] invalid plugin name: %s (want flb-filter_<name>.so)", bname);
    }
    free(copy);
    return name;
}

/* One flb_filter_do() call; returns cb_filter's return value. */
static int filter_call(const char *event, const char *chunk, const char *source,
                       const char *tag, const char *data, size_t size,
                       struct flb_input_instance *i_ins)
{
    void *out_buf = NULL;
    size_t out_size = 0;
    int tag_len = (int) strlen(tag);
    char *ntag = malloc((size_t) tag_len + 1);
    int ret;
    struct flb_filter_plugin *p = f_ins->p;

    if (!ntag) {
        perror("flb-host: malloc");
        exit(2);
    }
    memcpy(ntag, tag, (size_t) tag_len);
    ntag[tag_len] = '\0';

    ret = p->cb_filter(data, size, ntag, tag_len, &out_buf, &out_size, f_ins, i_ins, f_ins->context,
                       config);

    if (ret != FLB_FILTER_MODIFIED && ret != FLB_FILTER_NOTOUCH) {
        violation("cb_filter returned %d (want FLB_FILTER_MODIFIED or FLB_FILTER_NOTOUCH)", ret);
    }
    if (ret != FLB_FILTER_MODIFIED && out_buf != NULL) {
        violation("cb_filter returned %d with a buffer (%zu bytes); Fluent Bit would leak it", ret,
                  out_size);
    }
    if (ret == FLB_FILTER_MODIFIED && out_size > 0 && out_buf == NULL) {
        violation("cb_filter returned MODIFIED with out_size %zu and no buffer", out_size);
    }
    if (out_buf != NULL && (const char *) out_buf >= data && (const char *) out_buf < data + size) {
        violation("cb_filter returned a buffer inside the input chunk");
        out_buf = NULL; /* never free the chunk */
    }

    rep_begin(event);
    rep_str("chunk", chunk);
    if (source) {
        rep_str("source", source);
    }
    rep_str("tag", tag);
    rep_str("i_ins", i_ins->name);
    rep_int("in_size", (long long) size);
    rep_int("ret", ret);
    if (ret == FLB_FILTER_MODIFIED) {
        rep_int("out_size", (long long) out_size);
        rep_hex("out_hex", out_buf, out_buf ? out_size : 0);
    }
    rep_end();

    /* The engine releases the buffer with flb_free(), exactly once. */
    free(out_buf);
    free(ntag);
    return ret;
}

static void batches_clear(void)
{
    for (int i = 0; i < n_batches; i++) {
        free(batches[i].tag);
        free(batches[i].buf);
    }
    n_batches = 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"tag", required_argument, NULL, 't'},
        {"fail-emitter", no_argument, NULL, 'F'},
        {"emitter-ret", required_argument, NULL, 'R'},
        {"cio-offset", required_argument, NULL, 'O'},
        {"no-cio", no_argument, NULL, 'N'},
        {"storage-path", required_argument, NULL, 'S'},
        {"no-reinject", no_argument, NULL, 'I'},
        {"log-level", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *tag = "ct";
    const char *storage_path = NULL;
    long cio_offset = FLB_CONFIG_CIO_OFFSET_5_1_1;
    int reinject = 1;
    struct kvlist props = {0};
    int opt, ret, status = 0;
    char *end;

    while ((opt = getopt_long(argc, argv, "p:t:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'p': {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                fprintf(stderr, "flb-host: -p wants KEY=VALUE, got '%s'\n", optarg);
                return 2;
            }
            char *k = strndup(optarg, (size_t) (eq - optarg));
            kv_add(&props, k, eq + 1);
            free(k);
            break;
        }
        case 't':
            tag = optarg;
            break;
        case 'F':
            emitter_ret = -1;
            break;
        case 'R':
            emitter_ret = (int) strtol(optarg, &end, 10);
            if (*end) {
                fprintf(stderr, "flb-host: --emitter-ret wants a number\n");
                return 2;
            }
            break;
        case 'O':
            cio_offset = strtol(optarg, &end, 10);
            if (*end || cio_offset < 0 || cio_offset % 8 != 0 ||
                cio_offset + 8 > FAKE_CONFIG_SIZE) {
                fprintf(stderr, "flb-host: --cio-offset wants a multiple of 8 below %d\n",
                        FAKE_CONFIG_SIZE - 8);
                return 2;
            }
            break;
        case 'N':
            cio_offset = -1;
            break;
        case 'S':
            storage_path = optarg;
            break;
        case 'I':
            reinject = 0;
            break;
        case 'L': {
            static const char *levels[] = {"off", "error", "warn", "info", "debug", "trace"};
            host_log_level = -1;
            for (int i = 0; i < 6; i++) {
                if (strcasecmp(optarg, levels[i]) == 0) {
                    host_log_level = i;
                }
            }
            if (host_log_level < 0) {
                fprintf(stderr, "flb-host: --log-level wants off|error|warn|info|debug|trace\n");
                return 2;
            }
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *plugin_path = argv[optind++];

    /* the input the chunks come from */
    struct flb_input_instance *tail = input_add("tail");
    config_create(cio_offset, storage_path);

    /* 1. flb_plugin_load() */
    void *dso = dlopen(plugin_path, RTLD_LAZY);
    if (!dso) {
        host_log(FLB_LOG_ERROR, "[plugin] dlopen() %s", dlerror());
        status = 1;
        goto done;
    }
    char *stname = plugin_symbol_name(plugin_path);
    if (!stname) {
        status = 1;
        goto done;
    }
    dlerror();
    void *symbol = dlsym(dso, stname);
    if (dlerror() != NULL || !symbol) {
        host_log(FLB_LOG_ERROR, "[plugin] cannot load plugin '%s', registration structure is missing '%s'",
                 plugin_path, stname);
        free(stname);
        status = 1;
        goto done;
    }
    struct flb_filter_plugin *plugin = malloc(sizeof(*plugin));
    if (!plugin) {
        perror("flb-host: malloc");
        return 2;
    }
    memcpy(plugin, symbol, sizeof(*plugin));

    rep_begin("load");
    rep_str("host_variant", HOST_VARIANT);
    rep_bool("host_has_get_raw", dlsym(RTLD_DEFAULT, "flb_config_map_get_raw") != NULL);
    rep_str("symbol", stname);
    rep_str("name", readable_str(plugin->name, 256) ? plugin->name : NULL);
    rep_str("description", readable_str(plugin->description, 4096) ? plugin->description : NULL);
    rep_int("event_type", plugin->event_type);
    rep_int("flags", plugin->flags);
    rep_key("callbacks");
    sb_printf(&line, "{\"pre_run\":%s,\"init\":%s,\"filter\":%s,\"exit\":%s,\"notification\":%s}",
              plugin->cb_pre_run ? "true" : "false", plugin->cb_init ? "true" : "false",
              plugin->cb_filter ? "true" : "false", plugin->cb_exit ? "true" : "false",
              plugin->cb_notification ? "true" : "false");
    rep_end();
    free(stname);
    if (!readable_str(plugin->name, 256) || !plugin->cb_filter) {
        violation("the registration structure has no name or no cb_filter");
        status = 1;
        goto done;
    }

    /* 2. flb_filter_new() + flb_filter_set_property() */
    f_ins = calloc(1, sizeof(*f_ins));
    if (!f_ins) {
        perror("flb-host: calloc");
        return 2;
    }
    snprintf(f_ins->name, sizeof(f_ins->name) - 1, "%s.%i", plugin->name, 0);
    f_ins->p = plugin;
    f_ins->log_level = -1;
    for (int i = 0; i < props.n; i++) {
        ret = filter_set_property(f_ins, props.items[i].key, props.items[i].val);
        rep_begin("property");
        rep_str("key", props.items[i].key);
        rep_str("value", props.items[i].val);
        rep_int("ret", ret);
        rep_end();
        if (ret == -1) {
            host_log(FLB_LOG_ERROR, "[config] could not set property '%s' on filter %s",
                     props.items[i].key, f_ins->name);
            status = 1;
            goto done;
        }
    }
    if (!f_ins->match) {
        /* flb_filter_init() unloads a filter without Match; the harness
         * behaves as if the section had "Match *". */
        f_ins->match = xstrdup("*");
    }

    /* 3. flb_config_map_create() + flb_config_map_properties_check() */
    struct sb keys = {0}, entries = {0}, allowed = {0};
    int n_entries = 0;
    const char **names = NULL;
    int *types = NULL;
    if (plugin->config_map) {
        struct flb_config_map *m = plugin->config_map;
        for (;; m++, n_entries++) {
            if (!readable(m, sizeof(*m))) {
                violation("config map entry %d is not readable (element size mismatch?)", n_entries);
                break;
            }
            if (m->name == NULL) {
                break;
            }
            if (n_entries >= 1000 || !readable_str(m->name, 256)) {
                violation("config map entry %d has an unreadable name %p: the plugin's element size "
                          "is not this host's %zu bytes",
                          n_entries, (void *) m->name, sizeof(*m));
                break;
            }
            if (m->def_value && !readable_str(m->def_value, 65536)) {
                violation("config map entry %d (%s) has an unreadable default", n_entries, m->name);
                break;
            }
            int t = m->type;
            if (!((t >= 0 && t <= 7) || (t >= 30 && t <= 34) || (t >= 40 && t <= 44) || t == 50)) {
                violation("config map entry %d (%s) has unknown type %d", n_entries, m->name, t);
            }
            names = realloc(names, (size_t) (n_entries + 1) * sizeof(*names));
            types = realloc(types, (size_t) (n_entries + 1) * sizeof(*types));
            if (!names || !types) {
                perror("flb-host: realloc");
                return 2;
            }
            names[n_entries] = m->name;
            types[n_entries] = t;
            if (n_entries) {
                sb_putn(&keys, ",", 1);
                sb_putn(&entries, ",", 1);
            }
            sb_json_str(&keys, m->name);
            sb_puts(&entries, "{\"name\":");
            sb_json_str(&entries, m->name);
            sb_printf(&entries, ",\"type\":%d,\"flags\":%d,\"default\":", t, m->flags);
            sb_json_str(&entries, m->def_value);
            sb_puts(&entries, ",\"desc\":");
            sb_json_str(&entries, m->desc && readable_str(m->desc, 65536) ? m->desc : NULL);
            sb_puts(&entries, "}");
        }
    }
    for (int i = 0; i < n_entries; i++) {
        if (i + 1 < n_entries) {
            sb_printf(&allowed, "%s, ", names[i]);
        }
        else {
            sb_printf(&allowed, n_entries == 1 ? "%s." : "and %s.", names[i]);
        }
    }
    rep_begin("config_map");
    rep_int("element_size", (long long) sizeof(struct flb_config_map));
    rep_bool("present", plugin->config_map != NULL);
    rep_key("keys");
    sb_puts(&line, "[");
    sb_puts(&line, keys.s ? keys.s : "");
    sb_puts(&line, "]");
    rep_key("entries");
    sb_puts(&line, "[");
    sb_puts(&line, entries.s ? entries.s : "");
    sb_puts(&line, "]");
    rep_end();

    ret = 0;
    if (plugin->config_map) {
        for (int i = 0; i < f_ins->properties.n && ret == 0; i++) {
            const char *k = f_ins->properties.items[i].key;
            int found = -1;
            if (strcasecmp(k, "active") == 0 || strcasecmp(k, "condition") == 0) {
                continue;
            }
            for (int j = 0; j < n_entries && found < 0; j++) {
                size_t len = strlen(names[j]);
                if (types[j] == FLB_CONFIG_MAP_STR_PREFIX) {
                    if (strncasecmp(k, names[j], len) == 0) {
                        if (strlen(k) <= len) {
                            host_log(FLB_LOG_ERROR, "[config] incomplete prefixed key '%s'", k);
                            break;
                        }
                        found = j;
                    }
                }
                else if (strlen(k) == len && strncasecmp(k, names[j], len) == 0) {
                    if (types[j] == FLB_CONFIG_MAP_DEPRECATED) {
                        host_log(FLB_LOG_WARN, "[config] %s: '%s' is deprecated", plugin->name, k);
                    }
                    found = j;
                }
            }
            if (found < 0) {
                if (n_entries) {
                    host_log(FLB_LOG_ERROR,
                             "[config] %s: unknown configuration property '%s'. "
                             "The following properties are allowed: %s",
                             plugin->name, k, allowed.s);
                }
                else {
                    host_log(FLB_LOG_ERROR, "[config] %s: unknown configuration property '%s'",
                             plugin->name, k);
                }
                ret = -1;
                break;
            }
            int count = kv_count(&f_ins->properties, k);
            struct flb_config_map *m = (struct flb_config_map *) ((char *) plugin->config_map);
            m += found;
            if ((m->flags & FLB_CONFIG_MAP_MULT) == 0 && count > 1) {
                host_log(FLB_LOG_ERROR, "[config] %s: configuration property '%s' is set %i times",
                         plugin->name, k, count);
                ret = -1;
            }
        }
    }
    free(keys.s);
    free(entries.s);
    free(allowed.s);
    free(names);
    free(types);
    rep_begin("property_check");
    rep_int("ret", ret);
    rep_end();
    if (ret == -1) {
        status = 1;
        goto done;
    }

    /* 4. flb_filter_init(): cb_pre_run, cb_init */
    if (plugin->cb_pre_run) {
        ret = plugin->cb_pre_run(f_ins, config, f_ins->data);
        if (ret != 0) {
            host_log(FLB_LOG_ERROR, "Failed pre_run callback on filter %s", f_ins->name);
            status = 1;
            goto done;
        }
    }
    ret = plugin->cb_init ? plugin->cb_init(f_ins, config, f_ins->data) : 0;
    rep_begin("init");
    rep_int("ret", ret);
    rep_bool("context_set", f_ins->context_set);
    rep_str("filter", f_ins->alias ? f_ins->alias : f_ins->name);
    rep_end();
    if (ret != 0) {
        host_log(FLB_LOG_ERROR, "Failed initialize filter %s", f_ins->name);
        status = 1;
        goto done;
    }
    if (emitter) {
        rep_begin("emitter_created");
        rep_str("name", emitter->name);
        rep_str("alias", emitter->alias);
        rep_str("plugin", emitter->plugin);
        rep_kvlist("props", &emitter->properties);
        rep_int("mem_buf_limit_bytes", emitter->mem_buf_limit);
        rep_str("storage_type", storage_type_name(emitter->storage_type));
        rep_end();
    }
    for (int i = 0; i < n_inputs; i++) {
        struct flb_input_instance *in = inputs[i];
        if (in != tail && in != emitter) {
            violation("input %s was created but not completed (init=%d storage=%d) nor destroyed",
                      in->name, in->initialized, in->storage_created);
        }
    }

    /* 8. flb_filter_do() for each chunk */
    for (int c = optind; c < argc; c++) {
        size_t size = 0;
        char *data = read_file(argv[c], &size);
        if (!data) {
            fprintf(stderr, "flb-host: cannot read %s: %s\n", argv[c], strerror(errno));
            status = 2;
            break;
        }
        current_chunk = argv[c];
        batches_clear();
        filter_call("filter", argv[c], NULL, tag, data, size, tail);
        run_collectors(); /* the flusher's next tick */
        if (reinject && emitter) {
            /* the emitter's chunks come back through the filter */
            for (int b = 0; b < n_batches; b++) {
                filter_call("reinject", argv[c], "emit", batches[b].tag, batches[b].buf,
                            batches[b].size, emitter);
            }
            /* and any chunk of the emitter's, whatever it holds */
            filter_call("reinject", argv[c], "chunk", tag, data, size, emitter);
        }
        batches_clear();
        current_chunk = "";
        free(data);
    }

    /* The Grace period: collectors keep running (the flusher's is not
     * paused by the emitter's pause callback). */
    run_collectors();

    /* 9. flb_filter_instance_exit(), then flb_input_exit_all() */
    rep_begin("exit");
    if (plugin->cb_exit && f_ins->context) {
        ret = plugin->cb_exit(f_ins->context, config);
        rep_bool("called", 1);
        rep_int("ret", ret);
    }
    else {
        rep_bool("called", 0);
    }
    rep_end();

done:
    while (n_inputs > 0) {
        input_remove(inputs[n_inputs - 1]);
    }
    free(batches);
    if (f_ins) {
        kv_free(&f_ins->properties);
        free(f_ins->alias);
        free(f_ins->match);
        free(f_ins->p);
        free(f_ins);
    }
    kv_free(&props);
    if (dso) {
        dlclose(dso); /* flb_plugin_destroy() */
    }
    free(cio);
    free(config);
    if (status == 0 && violations > 0) {
        status = 3;
    }
    rep_begin("done");
    rep_int("status", status);
    rep_int("violations", violations);
    rep_end();
    free(line.s);
    return status;
}
