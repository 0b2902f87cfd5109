/*
 * Logging through the running fluent-bit binary, shared by both plugins.
 *
 * The plugins call the functions the fluent-bit binary exports, declared weak:
 * a .so links without Fluent Bit, and outside Fluent Bit (tests, the plugin
 * host harnesses) messages go to stderr. The level check mirrors
 * flb_log_check() in flb_log.h, which Fluent Bit's logging macros run before
 * flb_log_print(). Included by one C file per plugin (static functions).
 */
#ifndef FLB_LOG_BRIDGE_H
#define FLB_LOG_BRIDGE_H

#include <stdio.h>

struct flb_worker;
__attribute__((weak)) void flb_log_print(int type, const char *file, int line, const char *fmt, ...);
__attribute__((weak)) struct flb_worker *flb_worker_get(void);
__attribute__((weak)) int flb_worker_log_level(struct flb_worker *worker);

#define FLB_BRIDGE_LOG_INFO 3

static int flb_bridge_log_enabled(int level)
{
    struct flb_worker *w;

    if (!flb_worker_get || !flb_worker_log_level) {
        return 1;
    }
    w = flb_worker_get();
    if (!w) {
        return level <= FLB_BRIDGE_LOG_INFO; /* as flb_log_check without a worker */
    }
    return flb_worker_log_level(w) >= level;
}

/* flb_bridge_log logs "[prefix] msg" at level. */
static void flb_bridge_log(int level, const char *prefix, const char *msg)
{
    if (!flb_bridge_log_enabled(level)) {
        return;
    }
    if (flb_log_print) {
        flb_log_print(level, NULL, 0, "[%s] %s", prefix, msg);
    }
    else {
        fprintf(stderr, "[%s] %s\n", prefix, msg);
    }
}

#endif
