/*
 * Logging for the cloudtrail_s3 input through Fluent Bit's own logger.
 *
 * The fluent-bit-go input API exposes no logging, so, like the opsworks
 * filter, this calls the functions the fluent-bit binary exports, declared
 * weak: the .so links without Fluent Bit, and outside Fluent Bit (tests, the
 * plugin host harness) messages go to stderr. The level check mirrors
 * flb_log_check() in flb_log.h, which Fluent Bit's logging macros run first.
 */
#include <stdio.h>
#include "flblog.h"

struct flb_worker;
__attribute__((weak)) void flb_log_print(int type, const char *file, int line, const char *fmt, ...);
__attribute__((weak)) struct flb_worker *flb_worker_get(void);
__attribute__((weak)) int flb_worker_log_level(struct flb_worker *worker);

static int log_enabled(int level)
{
    struct flb_worker *w;

    if (!flb_worker_get || !flb_worker_log_level) {
        return 1;
    }
    w = flb_worker_get();
    if (!w) {
        return level <= 3; /* info and above, as flb_log_check without a worker */
    }
    return flb_worker_log_level(w) >= level;
}

void cts3_log(int level, const char *msg)
{
    if (!log_enabled(level)) {
        return;
    }
    if (flb_log_print) {
        flb_log_print(level, NULL, 0, "[input:cloudtrail_s3] %s", msg);
    }
    else {
        fprintf(stderr, "[input:cloudtrail_s3] %s\n", msg);
    }
}
