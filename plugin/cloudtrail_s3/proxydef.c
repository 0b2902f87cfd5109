/*
 * Giving Fluent Bit the input's config map, where the running version takes one.
 *
 * Fluent Bit rejects a plugin's unknown keys only by checking them against the
 * plugin's config map (flb_input_plugin_property_check() in src/flb_input.c,
 * before cb_init). A Go input can hand over a map only through the struct that
 * FLBPluginRegister fills, struct flb_plugin_proxy_def
 * (include/fluent-bit/flb_plugin_proxy.h), which grew twice:
 *
 *   4.0.0 - 4.2.2   type, proxy, flags, name, description             32 bytes
 *   4.2.3 - 5.1.0   ... + int event_type                              40 bytes
 *   5.1.1 -         ... + struct flb_config_map *config_map (at 40)   48 bytes
 *
 * From 5.1.1 on flb_proxy_register_input() copies def->config_map into the
 * input plugin, so the keys are checked like a C plugin's. Fluent Bit
 * allocates the struct with flb_calloc(1, sizeof(struct flb_plugin_proxy_def))
 * of its own version (flb_plugin_proxy_create()), so writing config_map into
 * an older binary's struct would write past the end of that allocation.
 *
 * Detection. No symbol came with the field (the change only edited the struct
 * and the proxy) and Fluent Bit exports no version function or string, so the
 * plugin asks the binary it runs in, once: when the symbol
 * flb_plugin_proxy_register is defined by the main program (this process is
 * the fluent-bit executable, not a program embedding libfluent-bit), it runs
 * `/proc/self/exe --version` (which prints "Fluent Bit vX.Y.Z" and exits,
 * before any plugin is loaded) and parses the version. Only for 5.1.1 or later
 * does it then look at the struct: the allocation must have room for the field
 * (malloc_usable_size(): a development build from between the 5.1.1 version
 * bump and the change has the old struct), and the struct must hold what
 * fluent-bit-go just wrote with a still empty config_map. Anything unexpected
 * means no config map: the keys are then unchecked, as on older versions, and
 * the Go side still validates every value it reads.
 *
 * The map's entries are struct flb_config_map, which grew by one pointer in
 * 5.0.3: the element size is chosen exactly as the opsworks filter does
 * (plugin/opsworks/opsworks.c), by the symbol flb_config_map_get_raw added in
 * that change. The map is built once and never freed: Fluent Bit keeps the
 * pointer for the plugin's life (and again after a hot reload).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "flb_config_map_abi.h"
#include "proxydef.h"

extern char **environ;

/* struct flb_plugin_proxy_def as of Fluent Bit 5.1.1. */
struct proxy_def {
    int type;
    int proxy;
    int flags;
    char *name;
    char *description;
    int event_type;   /* 4.2.3 on */
    void *config_map; /* 5.1.1 on */
};
_Static_assert(offsetof(struct proxy_def, config_map) == 40 && sizeof(struct proxy_def) == 48,
               "LP64 layout of struct flb_plugin_proxy_def");

#define FLB_PROXY_INPUT_PLUGIN 1
#define FLB_PROXY_GOLANG       11


#define VERSION(maj, min, pat)  ((maj) * 1000000L + (min) * 1000L + (pat))
#define FIRST_WITH_CONFIG_MAP   VERSION(5, 1, 1)
#define PROBE_ENV               "CLOUDTRAIL_S3_VERSION_PROBE"
#define PROBE_TIMEOUT_MS        3000

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static long flb_version;          /* VERSION(); 0 when unknown */
static char flb_version_str[32];
static char probe_error[160];

static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static char *config_map;
static size_t config_map_entry;
static int config_map_keys;

/* in_main_program: is addr in a segment of the main program? dl_iterate_phdr
 * visits the main program first. */
struct addr_probe {
    uintptr_t addr;
    int found;
};

static int main_program_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    struct addr_probe *p = data;
    (void) size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && p->addr >= start && p->addr < start + ph->p_memsz) {
            p->found = 1;
        }
    }
    return 1; /* stop after the main program */
}

int cts3_in_main_program(void *addr)
{
    struct addr_probe p = {(uintptr_t) addr, 0};
    dl_iterate_phdr(main_program_cb, &p);
    return p.found;
}

static long elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000L + (now.tv_nsec - since->tv_nsec) / 1000000L;
}

/* run_version runs `/proc/self/exe --version` and returns what it printed on
 * stdout (at most size-1 bytes, within PROBE_TIMEOUT_MS), or -1. */
static int run_version(char *out, size_t size)
{
    char *argv[] = {"fluent-bit", "--version", NULL};
    char probe_env[] = PROBE_ENV "=1";
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none;
    struct timespec start;
    size_t len = 0, nenv = 0;
    char **envp;
    int fds[2], st, eof = 0, ret;
    pid_t pid;

    while (environ && environ[nenv]) {
        nenv++;
    }
    envp = calloc(nenv + 2, sizeof(*envp));
    if (!envp) {
        snprintf(probe_error, sizeof(probe_error), "out of memory");
        return -1;
    }
    memcpy(envp, environ, nenv * sizeof(*envp));
    envp[nenv] = probe_env;
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(probe_error, sizeof(probe_error), "pipe: %s", strerror(errno));
        free(envp);
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    ret = posix_spawn(&pid, "/proc/self/exe", &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(envp);
    close(fds[1]);
    if (ret != 0) {
        snprintf(probe_error, sizeof(probe_error), "running /proc/self/exe --version: %s", strerror(ret));
        close(fds[0]);
        return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (len + 1 < size) {
        long left = PROBE_TIMEOUT_MS - elapsed_ms(&start);
        struct pollfd pfd = {fds[0], POLLIN, 0};
        ssize_t n;
        if (left <= 0) {
            break;
        }
        ret = poll(&pfd, 1, (int) left);
        if (ret < 0 && errno == EINTR) {
            continue;
        }
        if (ret <= 0) {
            break;
        }
        n = read(fds[0], out + len, size - 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            eof = (n == 0);
            break;
        }
        len += (size_t) n;
    }
    out[len] = '\0';
    close(fds[0]);
    if (!eof) {
        kill(pid, SIGKILL);
    }
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!eof) {
        snprintf(probe_error, sizeof(probe_error), "/proc/self/exe --version did not finish");
        return -1;
    }
    return (int) len;
}

static void probe_version(void)
{
    char out[512], *p;
    unsigned maj, min, pat;
    void *sym;

    if (getenv(PROBE_ENV)) {
        snprintf(probe_error, sizeof(probe_error), "this process is a version probe");
        return;
    }
    sym = dlsym(RTLD_DEFAULT, "flb_plugin_proxy_register");
    if (!sym) {
        snprintf(probe_error, sizeof(probe_error), "the host exports no flb_plugin_proxy_register");
        return;
    }
    if (!cts3_in_main_program(sym)) {
        snprintf(probe_error, sizeof(probe_error),
                 "Fluent Bit is a library in this process, not its executable");
        return;
    }
    if (run_version(out, sizeof(out)) < 0) {
        return;
    }
    p = strstr(out, "Fluent Bit v");
    if (!p || sscanf(p, "Fluent Bit v%u.%u.%u", &maj, &min, &pat) != 3 || min > 999 || pat > 999) {
        out[strcspn(out, "\r\n")] = '\0';
        snprintf(probe_error, sizeof(probe_error), "unexpected output of --version: \"%.60s\"", out);
        return;
    }
    snprintf(flb_version_str, sizeof(flb_version_str), "%u.%u.%u", maj, min, pat);
    flb_version = VERSION((long) maj, (long) min, (long) pat);
}

int cts3_proxy_def_has_config_map(void *def, char *msg, size_t msg_size)
{
    struct proxy_def *d = def;
    size_t room;

    pthread_once(&probe_once, probe_version);
    if (flb_version == 0) {
        snprintf(msg, msg_size, "cannot tell the running Fluent Bit's version (%s)", probe_error);
        return 0;
    }
    if (flb_version < FIRST_WITH_CONFIG_MAP) {
        snprintf(msg, msg_size,
                 "Fluent Bit %s takes no config map from Go inputs (5.1.1 added it)", flb_version_str);
        return 0;
    }
    /* Fluent Bit >= 5.1.1 allocated def with flb_calloc(), i.e. the process's malloc. */
    room = def ? malloc_usable_size(def) : 0;
    if (room < sizeof(*d)) {
        snprintf(msg, msg_size,
                 "Fluent Bit %s: its registration struct has %zu bytes, no room for a config map "
                 "(a build from before 5.1.1's change?)", flb_version_str, room);
        return 0;
    }
    if (d->type != FLB_PROXY_INPUT_PLUGIN || d->proxy != FLB_PROXY_GOLANG || !d->name ||
        d->config_map != NULL) {
        snprintf(msg, msg_size,
                 "Fluent Bit %s: unexpected registration struct (type %d, proxy %d, config_map %p)",
                 flb_version_str, d->type, d->proxy, d->config_map);
        return 0;
    }
    return 1;
}

int cts3_proxy_def_set_config_map(void *def, char **keys, char **defs, char **descs, int n,
                                  char *msg, size_t msg_size)
{
    struct proxy_def *d = def;

    pthread_mutex_lock(&map_lock);
    if (!config_map) {
        size_t size = config_map_entry_size();
        char *map = calloc((size_t) n + 1, size); /* + the terminating entry (name NULL) */
        if (!map) {
            pthread_mutex_unlock(&map_lock);
            snprintf(msg, msg_size, "out of memory for the config map");
            return 0;
        }
        for (int i = 0; i < n; i++) {
            struct config_map_head *e = (struct config_map_head *) (map + (size_t) i * size);
            e->type = FLB_CONFIG_MAP_STR;
            e->name = keys[i];
            e->def_value = defs[i];
            e->desc = descs[i];
        }
        config_map = map;
        config_map_entry = size;
        config_map_keys = n;
    }
    d->config_map = config_map;
    pthread_mutex_unlock(&map_lock);
    snprintf(msg, msg_size, "Fluent Bit %s checks the keys against the input's config map "
             "(%d keys, %zu-byte entries)", flb_version_str, config_map_keys, config_map_entry);
    return 1;
}
