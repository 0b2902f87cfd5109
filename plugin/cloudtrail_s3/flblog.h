#ifndef CLOUDTRAIL_S3_FLBLOG_H
#define CLOUDTRAIL_S3_FLBLOG_H
/* Logging through the running fluent-bit binary (see flblog.c). */
void cts3_log(int level, const char *msg);
#endif
