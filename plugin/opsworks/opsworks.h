#ifndef OPSWORKS_H
#define OPSWORKS_H
#include <stddef.h>
#include <stdint.h>

/* Opaque Fluent Bit types: the plugin never reads their fields, except the
 * version-checked config->cio in abi.c. */
struct flb_filter_instance;
struct flb_input_instance;
struct flb_config;
struct flb_worker;

#define OPSWORKS_LOG_ERROR 1
#define OPSWORKS_LOG_WARN  2
#define OPSWORKS_LOG_INFO  3

void opsworks_log(int level, const char *msg);
const char *opsworks_get_property(struct flb_filter_instance *ins, const char *key);
const char *opsworks_filter_name(struct flb_filter_instance *ins);
void opsworks_set_context(struct flb_filter_instance *ins, uintptr_t id);
int opsworks_start_flusher(struct flb_input_instance *emitter, struct flb_config *config);
int opsworks_append(struct flb_input_instance *emitter, const char *tag, int tag_len,
                    const char *buf, size_t size);
struct flb_input_instance *opsworks_emitter_create(struct flb_config *config, const char *name,
                                                   const char *storage_type,
                                                   const char *mem_buf_limit,
                                                   char *err, size_t err_size);
void *opsworks_config_cio(struct flb_config *config, char *err, size_t err_size);
#endif
