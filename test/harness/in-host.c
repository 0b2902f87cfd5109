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
 *
 * Usage: in-host PLUGIN.so -o OUT [-p key=value]... [--ticks N]
 *        [--interval-ms M] [--idle-exit N] [--pause-at K --resume-at L]
 *        [--fail-append-at K]
 * --idle-exit N stops after N consecutive empty collects that follow at least
 * one non-empty one (or after --ticks). --fail-append-at K emulates an append
 * that never reaches the buffer on tick K: the data is dropped and cleanup is
 * NOT called (Fluent Bit frees nothing of the plugin's either; the plugin must
 * not commit that batch).
 * Output on stdout, one line each: "init RET", "collect TICK BYTES",
 * "log LEVEL MESSAGE", "pause", "resume", "exit RET".
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

#define MAX_PROPS 64
static const char *prop_keys[MAX_PROPS];
static const char *prop_vals[MAX_PROPS];
static int nprops;
static int fake_instance;

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
                    "[--idle-exit N] [--pause-at K --resume-at L] [--fail-append-at K]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *so = NULL, *out = NULL;
    int ticks = 100000, interval_ms = 10, idle_exit = 0, pause_at = -1, resume_at = -1, fail_at = -1;

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
        else if (argv[i][0] != '-' && !so) so = argv[i];
        else usage();
    }
    if (!so || !out) {
        usage();
    }

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
    struct flb_plugin_proxy_def def;
    memset(&def, 0, sizeof(def));
    if (reg(&def) == -1 || def.type != 1 || def.proxy != 11) {
        fprintf(stderr, "registration failed: type=%d proxy=%d\n", def.type, def.proxy);
        return 1;
    }
    printf("register %s\n", def.name ? def.name : "(null)");

    struct flb_api api;
    memset(&api, 0, sizeof(api));
    api.input_get_property = input_get_property;
    api.log_print = flb_log_print;

    struct flbgo_input_plugin p;
    memset(&p, 0, sizeof(p));
    p.name = def.name;
    p.api = &api;
    p.i_ins = &fake_instance;
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
    return 0;
}
