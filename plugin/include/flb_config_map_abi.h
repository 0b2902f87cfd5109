/*
 * struct flb_config_map as both plugins build it, shared by their C shims.
 *
 * Only the leading fields are the same in every Fluent Bit release; the
 * element grew from 96 to 104 bytes in 5.0.3 (the release that added
 * flb_config_map_get_raw, which is how a plugin tells the two apart at run
 * time). Each plugin writes entries of the running version's size.
 */
#ifndef FLB_CONFIG_MAP_ABI_H
#define FLB_CONFIG_MAP_ABI_H

#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>

#define FLB_CONFIG_MAP_STR 0

/* The fields of struct flb_config_map that are the same in every version. */
struct config_map_head {
    int type;
    char *name;
    char *def_value;
    int flags;
    int set_property;
    uintptr_t offset;
    char *desc;
};
#define CONFIG_MAP_SIZE_PRE_5_0_3 96
#define CONFIG_MAP_SIZE_5_0_3     104

/* config_map_entry_size is the size of one config map element in the
 * running Fluent Bit. */
static inline size_t config_map_entry_size(void)
{
    return dlsym(RTLD_DEFAULT, "flb_config_map_get_raw") ? CONFIG_MAP_SIZE_5_0_3 : CONFIG_MAP_SIZE_PRE_5_0_3;
}

#endif
