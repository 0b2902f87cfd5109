/*
 * Finding config->cio in the running Fluent Bit.
 *
 * The emitter input needs a storage stream, created with
 * flb_storage_input_create(config->cio, ins) exactly as rewrite_tag does.
 * struct flb_config changes between releases, so the offset of `cio` is not a
 * constant. We try the offsets of the known releases first (cheap), and accept
 * a candidate only if the pointer it holds looks like chunkio's cio_ctx as
 * cio_create() leaves it: page_size equal to the system page size, a valid
 * log level, a log callback, and an initialized streams list. If no known
 * offset passes, the first 4 KiB of flb_config are scanned with the same
 * check, so an unknown future release still works or fails with a clear
 * message ("use retag off") instead of crashing. Every read goes through
 * readable(), which asks the kernel instead of touching memory directly.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "opsworks.h"

/* chunkio's struct cio_ctx up to the fields we check (lib/chunkio, unchanged 4.0 – 5.1). */
struct cio_ctx_head {
    int page_size;
    int realloc_size_hint;
    struct {
        int initialized;
        int flags;
        char *root_path;
        int log_level;
        void *log_cb;
        char *user;
        char *group;
        char *chmod;
        int realloc_size_hint;
    } options;
    void *processed_user;
    void *processed_group;
    size_t total_chunks;
    size_t total_chunks_up;
    size_t max_chunks_up;
    struct {
        void *prev, *next;
    } streams;
};

/* offsetof(struct flb_config, cio) of official builds (FLB_HAVE_METRICS and
 * FLB_HAVE_HTTP_SERVER on, linux x86_64), newest first; see README "Supported
 * Fluent Bit versions". */
static const size_t known_cio_offsets[] = {
#include "cio_offsets.h"
};

/* readable reports whether len bytes at p can be read, without faulting. */
static int readable(const void *p, size_t len)
{
    int fds[2];
    ssize_t n;

    if (p == NULL || ((uintptr_t) p & 7) != 0 || pipe(fds) != 0) {
        return 0;
    }
    n = write(fds[1], p, len);
    close(fds[0]);
    close(fds[1]);
    return n == (ssize_t) len;
}

static int looks_like_cio(const void *candidate)
{
    struct cio_ctx_head c;
    void *back;
    const char *streams = (const char *) candidate + offsetof(struct cio_ctx_head, streams);

    if (!readable(candidate, sizeof(c))) {
        return 0;
    }
    memcpy(&c, candidate, sizeof(c));
    if (c.page_size != (int) sysconf(_SC_PAGESIZE) ||
        c.options.log_level < 1 || c.options.log_level > 5 ||
        c.options.log_cb == NULL || c.max_chunks_up == 0 ||
        c.streams.prev == NULL || c.streams.next == NULL) {
        return 0;
    }
    /* A live list: the first stream (or the head itself) points back at the head. */
    if (!readable(c.streams.next, sizeof(void *))) {
        return 0;
    }
    memcpy(&back, c.streams.next, sizeof(back)); /* next->prev is the first word */
    return back == (void *) streams;
}

static void *cio_at(struct flb_config *config, size_t offset)
{
    void *candidate;
    const char *slot = (const char *) config + offset;

    if (!readable(slot, sizeof(candidate))) {
        return NULL;
    }
    memcpy(&candidate, slot, sizeof(candidate));
    return looks_like_cio(candidate) ? candidate : NULL;
}

void *opsworks_config_cio(struct flb_config *config, char *err, size_t err_size)
{
    size_t i;
    void *cio;

    for (i = 0; i < sizeof(known_cio_offsets) / sizeof(known_cio_offsets[0]); i++) {
        if ((cio = cio_at(config, known_cio_offsets[i])) != NULL) {
            return cio;
        }
    }
    for (i = 0; i < 4096; i += sizeof(void *)) {
        if ((cio = cio_at(config, i)) != NULL) {
            return cio;
        }
    }
    snprintf(err, err_size,
             "cannot locate Fluent Bit's storage context in this Fluent Bit build; "
             "the emitter cannot be created (set 'retag off' to keep the incoming tag)");
    return NULL;
}
