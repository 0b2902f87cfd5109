//go:build ignore

/*
 * in-host: a stand-in for Fluent Bit's Go *input* proxy, used by CI (which has
 * no Fluent Bit) to run in_cloudtrail_s3.so the way Fluent Bit 4.0 – 5.1 does.
 * Built by the Go tests with: gcc -O1 -g -rdynamic -o in-host in-host.c -ldl
 *
 * What each part mirrors:
 *  - loading: flb_plugin_proxy_create() dlopen()s the .so (RTLD_LAZY) and
 *    flb_plugin_proxy_register() calls FLBPluginRegister(def) with a zeroed
 *    struct flb_plugin_proxy_def, then requires def->type ==
 *    FLB_PROXY_INPUT_PLUGIN (1) and def->proxy == FLB_PROXY_GOLANG (11).
 *  - symbols: proxy_go_input_register() (src/proxy/go/go.c) resolves
 *    FLBPluginInit (required), FLBPluginInputCallback,
 *    FLBPluginInputCleanupCallback, FLBPluginExit; the *Ctx variants are
 *    preferred when present. Pause/resume: FLBPluginInputPause/Resume,
 *    resolved by flb_proxy_input_cb_pause/resume (src/flb_plugin_proxy.c).
 *  - init: proxy_go_input_init() passes a struct flbgo_input_plugin whose
 *    `api` has input_get_property(key, i_ins) as its second member (struct
 *    flb_api, include/fluent-bit/flb_api.h); fluent-bit-go reads properties
 *    through it. FLBPluginInit must return > 0 (FLB_OK = 1).
 *  - collect: flb_proxy_input_cb_collect() runs on a 1 s timer: it calls the
 *    collect callback, returns early when len == 0 (nothing appended, no
 *    cleanup), otherwise appends the buffer (flb_input_log_append) and then
 *    calls the cleanup callback with the same pointer (or free()s it when the
 *    plugin has none). Here "append" writes the bytes to the -o file. The
 *    timer is replaced by --interval-ms (default 10) so tests run fast.
 *  - pause: while paused Fluent Bit stops the collector, so no collect call.
 *  - exit: proxy_go_input_destroy() calls FLBPluginExit().
 *  - host functions: the fluent-bit binary exports flb_log_print,
 *    flb_worker_get, flb_worker_log_level; provided here (-rdynamic).
 *  - registration struct and config map: flb_plugin_proxy_create() allocates
 *    struct flb_plugin_proxy_def with flb_calloc() at the size of its own
 *    version: 32 bytes up to 4.2.2, 40 from 4.2.3 (event_type), 48 from 5.1.1
 *    (config_map at offset 40). --flb-version V says which Fluent Bit this
 *    host is: what `in-host --version` prints ("Fluent Bit vV", which is how
 *    the plugin tells; "none" prints something else), and the default of
 *    --def-size (the struct's size; 40 with V = 5.1.1 is a development build
 *    from before the field). The struct is placed at the very end of a page
 *    followed by an inaccessible one, and this host's malloc_usable_size()
 *    reports exactly its size for it: a plugin that writes past the struct
 *    dies with SIGSEGV. With 48 bytes the host reads config_map as 5.1.1's
 *    flb_proxy_register_input() does, prints it, and checks every -p key
 *    against it as flb_input_plugin_property_check() does (before init:
 *    unknown key -> Fluent Bit's message, exit 1). The host exports
 *    flb_plugin_proxy_register (Fluent Bit's proxy API is in the main
 *    program) and flb_config_map_get_raw (a 5.0.3+ host: 104-byte
 *    struct flb_config_map).
 *  - engine exit (exit_on_eof): the fluent-bit executable exports its
 *    context, the global `flb_ctx_t *ctx` (struct flb_lib_ctx: status,
 *    event_loop, event_channel, config), and flb_engine_exit_status(config,
 *    code). The fake input instance handed to init is a malloc'd block that
 *    holds the config pointer at --config-offset (default 600; -1: nowhere,
 *    as with a context that is not this instance's); --no-lib-ctx leaves ctx
 *    NULL; --reloading sets the exported flb_bin_restarting (a hot reload in
 *    progress, when ctx must not be read). flb_context_get() is not
 *    provided: the proxy's init runs in the input's thread, where it is NULL. flb_engine_exit_status() with that config prints "engine_exit
 *    CODE"; as Fluent Bit does, the host then pauses the input, runs
 *    --grace-ticks more ticks without collecting, calls FLBPluginExit and
 *    exits with CODE. Called with any other pointer, it prints a violation.
 *
 * Usage: in-host PLUGIN.so -o OUT [-p key=value]... [--ticks N]
 *        [--interval-ms M] [--idle-exit N] [--pause-at K --resume-at L]
 *        [--fail-append-at K] [--flb-version V] [--def-size 32|40|48]
 *        [--config-offset N] [--no-lib-ctx] [--reloading] [--grace-ticks N]
 *        in-host --version
 * --idle-exit N stops after N consecutive empty collects that follow at least
 * one non-empty one (or after --ticks). --fail-append-at K emulates an append
 * that never reaches the buffer on tick K: the data is dropped and cleanup is
 * NOT called (Fluent Bit frees nothing of the plugin's either; the plugin must
 * not commit that batch).
 * Output on stdout, one line each: "register NAME", "def SIZE",
 * "config_map ENTRY_SIZE KEY,KEY,..." or "config_map none", "init RET",
 * "collect TICK BYTES", "log LEVEL MESSAGE", "pause", "resume",
 * "engine_exit CODE", "exit RET".
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

struct flb_plugin_proxy_def {
    int type;
    int proxy;
    int flags;
    char *name;
    char *description;
    int event_type;
    void *config_map;
};

_Static_assert(offsetof(struct flb_plugin_proxy_def, config_map) == 40 &&
               sizeof(struct flb_plugin_proxy_def) == 48, "5.1.1 layout");

/* include/fluent-bit/flb_config_map.h, 5.0.3 on (value.raw). */
struct mk_list {
    struct mk_list *prev, *next;
};
struct flb_config_map {
    int type;
    char *name;
    char *def_value;
    int flags;
    int set_property;
    uintptr_t offset;
    char *desc;
    struct {
        union {
            char *str;
            double d_num;
        } val;
        char *raw;
        struct mk_list *mult;
        struct mk_list _head;
    } value;
    struct mk_list _head;
};
_Static_assert(sizeof(struct flb_config_map) == 104, "5.0.3+ flb_config_map is 104 bytes");

/* src/flb_config_map.c (5.0.3 on); plugins probe for it. */
const char *flb_config_map_get_raw(struct flb_config_map *map)
{
    return map ? map->value.raw : NULL;
}

/* src/flb_plugin_proxy.c; exported by the fluent-bit executable. */
int flb_plugin_proxy_register(void *proxy, void *config)
{
    (void) proxy;
    (void) config;
    return -1;
}

/* The registration struct, at the end of a page followed by a PROT_NONE one. */
static void *def_block;
static size_t def_size;

/* The allocator's answer for the registration struct: exactly its size. */
size_t malloc_usable_size(void *p)
{
    static size_t (*real)(void *);
    if (p && p == def_block) {
        return def_size;
    }
    if (!real) {
        real = (size_t (*)(void *)) dlsym(RTLD_NEXT, "malloc_usable_size");
    }
    return real ? real(p) : 0;
}

static void *guarded_def(size_t size)
{
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, (size_t) page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || mprotect(m + page, (size_t) page, PROT_NONE) != 0) {
        perror("in-host: guard page");
        exit(2);
    }
    return m + page - size; /* zeroed, like flb_calloc */
}

/* "5.1.1" -> 5001001; 0 if not a version. */
static long version_number(const char *v)
{
    unsigned a, b, c;
    return v && sscanf(v, "%u.%u.%u", &a, &b, &c) == 3 ? a * 1000000L + b * 1000L + c : 0;
}

struct flb_api {
    const char *(*output_get_property)(const char *, void *);
    const char *(*input_get_property)(const char *, void *);
    void *(*output_get_cmt_instance)(void *);
    void *(*input_get_cmt_instance)(void *);
    void (*log_print)(int, const char *, int, const char *, ...);
    int (*input_log_check)(void *, int);
    int (*output_log_check)(void *, int);
};

struct flbgo_input_plugin {
    char *name;
    void *api;
    void *i_ins;
    void *context;
    int (*cb_init)(struct flbgo_input_plugin *);
    int (*cb_collect)(void **, size_t *);
    int (*cb_collect_ctx)(void *, void **, size_t *);
    int (*cb_cleanup)(void *);
    int (*cb_cleanup_ctx)(void *, void *);
    int (*cb_exit)(void);
};

/* include/fluent-bit/flb_lib.h; exported as the executable's global `ctx`. */
struct flb_lib_ctx {
    int status;
    void *event_loop;
    void *event_channel;
    void *config;
};
struct flb_lib_ctx *ctx;
volatile int flb_bin_restarting; /* src/fluent-bit.c: FLB_RELOAD_IDLE (0) unless --reloading */
static struct flb_lib_ctx lib_ctx;
static char fake_config[512];
static volatile int engine_exit_code = -1;

/* src/flb_engine.c: sets the exit code and returns flb_engine_exit(), the
 * result of writing the 8-byte stop event to the engine's channel. */
int flb_engine_exit_status(void *config, int status)
{
    if (config != fake_config) {
        printf("violation flb_engine_exit_status with config %p, not the host's %p\n", config,
               (void *) fake_config);
        fflush(stdout);
        return -1;
    }
    printf("engine_exit %d\n", status);
    fflush(stdout);
    engine_exit_code = status;
    return 8; /* flb_pipe_w()'s byte count, as Fluent Bit returns it */
}

#define MAX_PROPS 64
static const char *prop_keys[MAX_PROPS];
static const char *prop_vals[MAX_PROPS];
static int nprops;

/* flb_input_get_property(): case-insensitive, first match (flb_kv). */
static const char *input_get_property(const char *key, void *ins)
{
    (void) ins;
    for (int i = 0; i < nprops; i++) {
        if (strcasecmp(prop_keys[i], key) == 0) {
            return prop_vals[i];
        }
    }
    return NULL;
}

/* Exported like the fluent-bit binary's own symbols. */
void flb_log_print(int type, const char *file, int line, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    (void) file;
    (void) line;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    for (char *p = buf; *p; p++) {
        if (*p == '\n') {
            *p = ' ';
        }
    }
    printf("log %d %s\n", type, buf);
    fflush(stdout);
}

void *flb_worker_get(void)
{
    return NULL; /* the proxy's callbacks run in the input thread: no worker context */
}

int flb_worker_log_level(void *w)
{
    (void) w;
    return 3;
}

static void usage(void)
{
    fprintf(stderr, "usage: in-host PLUGIN.so -o OUT [-p key=value]... [--ticks N] [--interval-ms M] "
                    "[--idle-exit N] [--pause-at K --resume-at L] [--fail-append-at K] "
                    "[--flb-version V] [--def-size 32|40|48]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *so = NULL, *out = NULL, *flb_version = "5.1.1";
    int ticks = 100000, interval_ms = 10, idle_exit = 0, pause_at = -1, resume_at = -1, fail_at = -1;
    long size_opt = 0, config_offset = 600;
    int no_lib_ctx = 0, grace_ticks = 5, reloading = 0;

    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        /* Fluent Bit's flb_version(); the version comes from the parent in-host. */
        const char *v = getenv("IN_HOST_FLB_VERSION");
        if (v && version_number(v)) {
            printf("Fluent Bit v%s\nGit commit: \n", v);
        }
        else {
            printf("in-host: not a Fluent Bit\n");
        }
        return 0;
    }

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-p") == 0 && i + 1 < argc) {
            char *kv = argv[++i], *eq = strchr(kv, '=');
            if (!eq || nprops == MAX_PROPS) {
                usage();
            }
            *eq = '\0';
            prop_keys[nprops] = kv;
            prop_vals[nprops++] = eq + 1;
        }
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) out = argv[++i];
        else if (strcmp(argv[i], "--ticks") == 0 && i + 1 < argc) ticks = atoi(argv[++i]);
        else if (strcmp(argv[i], "--interval-ms") == 0 && i + 1 < argc) interval_ms = atoi(argv[++i]);
        else if (strcmp(argv[i], "--idle-exit") == 0 && i + 1 < argc) idle_exit = atoi(argv[++i]);
        else if (strcmp(argv[i], "--pause-at") == 0 && i + 1 < argc) pause_at = atoi(argv[++i]);
        else if (strcmp(argv[i], "--resume-at") == 0 && i + 1 < argc) resume_at = atoi(argv[++i]);
        else if (strcmp(argv[i], "--fail-append-at") == 0 && i + 1 < argc) fail_at = atoi(argv[++i]);
        else if (strcmp(argv[i], "--flb-version") == 0 && i + 1 < argc) flb_version = argv[++i];
        else if (strcmp(argv[i], "--def-size") == 0 && i + 1 < argc) size_opt = atol(argv[++i]);
        else if (strcmp(argv[i], "--config-offset") == 0 && i + 1 < argc) config_offset = atol(argv[++i]);
        else if (strcmp(argv[i], "--grace-ticks") == 0 && i + 1 < argc) grace_ticks = atoi(argv[++i]);
        else if (strcmp(argv[i], "--no-lib-ctx") == 0) no_lib_ctx = 1;
        else if (strcmp(argv[i], "--reloading") == 0) reloading = 1;
        else if (argv[i][0] != '-' && !so) so = argv[i];
        else usage();
    }
    if (!so || !out || (size_opt && size_opt != 32 && size_opt != 40 && size_opt != 48)) {
        usage();
    }
    long vnum = version_number(flb_version);
    def_size = size_opt ? (size_t) size_opt
                        : vnum >= 5001001 ? 48 : vnum >= 4002003 ? 40 : 32;
    setenv("IN_HOST_FLB_VERSION", flb_version, 1);

    void *h = dlopen(so, RTLD_LAZY);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    int (*reg)(struct flb_plugin_proxy_def *) = (int (*)(struct flb_plugin_proxy_def *)) dlsym(h, "FLBPluginRegister");
    if (!reg) {
        fprintf(stderr, "no FLBPluginRegister\n");
        return 1;
    }
    /* flb_plugin_proxy_create(): def = flb_calloc(1, sizeof(def)); def->type = type */
    def_block = guarded_def(def_size);
    struct flb_plugin_proxy_def *dp = def_block;
    dp->type = 1;
    if (reg(dp) == -1 || dp->type != 1 || dp->proxy != 11) {
        fprintf(stderr, "registration failed: type=%d proxy=%d\n", dp->type, dp->proxy);
        return 1;
    }
    struct flb_plugin_proxy_def def;
    memset(&def, 0, sizeof(def));
    memcpy(&def, dp, def_size);
    printf("register %s\n", def.name ? def.name : "(null)");
    printf("def %zu\n", def_size);

    /* 5.1.1: in->config_map = def->config_map; flb_input_plugin_property_check() */
    if (def.config_map) {
        const struct flb_config_map *m = def.config_map;
        char allowed[8192] = "";
        int n = 0;
        printf("config_map %zu ", sizeof(*m));
        for (; m->name; m++, n++) {
            if (m->type != 0 || m->flags != 0 || m->set_property != 0) {
                fprintf(stderr, "config map entry %s: type %d flags %d set_property %d\n",
                        m->name, m->type, m->flags, m->set_property);
                return 1;
            }
            printf("%s%s", n ? "," : "", m->name);
            snprintf(allowed + strlen(allowed), sizeof(allowed) - strlen(allowed), "%s%s%s",
                     n ? ", " : "", m[1].name ? "" : (n ? "and " : ""), m->name);
        }
        printf("\n");
        fflush(stdout);
        for (int i = 0; i < nprops; i++) {
            int found = 0;
            for (m = def.config_map; m->name && !found; m++) {
                found = strlen(m->name) == strlen(prop_keys[i]) && strcasecmp(m->name, prop_keys[i]) == 0;
            }
            if (!found) {
                /* src/flb_config_map.c, helper_map_options() */
                flb_log_print(1, NULL, 0, "[config] %s: unknown configuration property '%s'. "
                              "The following properties are allowed: %s.", def.name, prop_keys[i], allowed);
                return 1; /* Fluent Bit: "[engine] input initialization failed", exit */
            }
        }
    }
    else {
        printf("config_map none\n");
    }

    struct flb_api api;
    memset(&api, 0, sizeof(api));
    api.input_get_property = input_get_property;
    api.log_print = flb_log_print;

    struct flbgo_input_plugin p;
    memset(&p, 0, sizeof(p));
    p.name = def.name;
    p.api = &api;
    /* struct flb_input_instance: flb_calloc'd, config somewhere inside. */
    char *instance = calloc(1, 1024);
    if (!instance) {
        perror("in-host: calloc");
        return 2;
    }
    if (config_offset >= 0 && config_offset % 8 == 0 && config_offset + 8 <= 1024) {
        void *cfg = fake_config;
        memcpy(instance + config_offset, &cfg, sizeof(cfg));
    }
    lib_ctx.config = fake_config;
    ctx = no_lib_ctx ? NULL : &lib_ctx;
    flb_bin_restarting = reloading;
    p.i_ins = instance;
    p.cb_init = (int (*)(struct flbgo_input_plugin *)) dlsym(h, "FLBPluginInit");
    p.cb_collect = (int (*)(void **, size_t *)) dlsym(h, "FLBPluginInputCallback");
    p.cb_collect_ctx = (int (*)(void *, void **, size_t *)) dlsym(h, "FLBPluginInputCallbackCtx");
    p.cb_cleanup = (int (*)(void *)) dlsym(h, "FLBPluginInputCleanupCallback");
    p.cb_cleanup_ctx = (int (*)(void *, void *)) dlsym(h, "FLBPluginInputCleanupCallbackCtx");
    p.cb_exit = (int (*)(void)) dlsym(h, "FLBPluginExit");
    void (*cb_pause)(void) = (void (*)(void)) dlsym(h, "FLBPluginInputPause");
    void (*cb_resume)(void) = (void (*)(void)) dlsym(h, "FLBPluginInputResume");
    if (!p.cb_init || (!p.cb_collect && !p.cb_collect_ctx)) {
        fprintf(stderr, "missing FLBPluginInit or FLBPluginInputCallback\n");
        return 1;
    }

    int ret = p.cb_init(&p);
    printf("init %d\n", ret);
    fflush(stdout);
    if (ret <= 0) {
        return 3; /* Fluent Bit: "plugin failed to initialize" */
    }

    FILE *f = fopen(out, "wb");
    if (!f) {
        perror(out);
        return 2;
    }
    int paused = 0, idle = 0, seen = 0;
    for (int tick = 0; tick < ticks; tick++) {
        if (engine_exit_code >= 0) {
            /* flb_engine_stop_ingestion(): pause every input; the grace
             * period passes without collects; then cb_exit. */
            if (cb_pause) cb_pause();
            printf("pause\n");
            usleep((useconds_t) grace_ticks * interval_ms * 1000);
            break;
        }
        if (tick == pause_at) {
            paused = 1;
            if (cb_pause) cb_pause();
            printf("pause\n");
        }
        if (tick == resume_at) {
            paused = 0;
            if (cb_resume) cb_resume();
            printf("resume\n");
        }
        usleep(interval_ms * 1000);
        if (paused) {
            continue;
        }
        void *data = NULL;
        size_t len = 0;
        if (p.cb_collect_ctx) {
            ret = p.cb_collect_ctx(NULL, &data, &len);
        }
        else {
            ret = p.cb_collect(&data, &len);
        }
        if (len == 0) { /* flb_proxy_input_cb_collect: "No logs are ingested" */
            if (seen && idle_exit && ++idle >= idle_exit) {
                break;
            }
            continue;
        }
        idle = 0;
        seen = 1;
        if (tick == fail_at) {
            printf("collect %d %zu dropped\n", tick, len);
            fflush(stdout);
            continue; /* never appended, never cleaned up */
        }
        fwrite(data, 1, len, f);
        fflush(f);
        printf("collect %d %zu\n", tick, len);
        fflush(stdout);
        if (p.cb_cleanup_ctx) {
            p.cb_cleanup_ctx(NULL, data);
        }
        else if (p.cb_cleanup) {
            p.cb_cleanup(data);
        }
        else {
            free(data);
        }
    }
    fclose(f);
    ret = p.cb_exit ? p.cb_exit() : 0;
    printf("exit %d\n", ret);
    fflush(stdout);
    free(instance);
    return engine_exit_code > 0 ? engine_exit_code : 0; /* src/fluent-bit.c: config->exit_status_code */
}
