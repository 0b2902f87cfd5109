#ifndef CLOUDTRAIL_S3_ENGINEEXIT_H
#define CLOUDTRAIL_S3_ENGINEEXIT_H
#include <stddef.h>

/* exit_on_eof: stopping Fluent Bit gracefully with an exit code (see engineexit.c). */
int cts3_engine_attach(void *plugin, char *msg, size_t msg_size);
int cts3_engine_exit(int code);
#endif
