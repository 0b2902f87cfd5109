#ifndef CLOUDTRAIL_S3_PROXYDEF_H
#define CLOUDTRAIL_S3_PROXYDEF_H
#include <stddef.h>

/* Handing Fluent Bit the input's config map (see proxydef.c). */
int cts3_proxy_def_has_config_map(void *def, char *msg, size_t msg_size);
int cts3_proxy_def_set_config_map(void *def, char **keys, char **defs, char **descs, int n,
                                  char *msg, size_t msg_size);
/* Is addr inside the main program (the fluent-bit executable)? */
int cts3_in_main_program(void *addr);
#endif
