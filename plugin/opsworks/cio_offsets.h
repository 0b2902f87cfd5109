/* offsetof(struct flb_config, cio) on linux x86_64, measured by compiling
 * against each release's headers (see abi.c). Default builds first, newest
 * first; then builds without FLB_HTTP_SERVER (and FLB_METRICS). Anything
 * else is found by abi.c's scan. */
1192, /* 5.1.0 – 5.1.1 */
1040, /* 4.1.0 – 5.0.9 (multiline_buffer_limit added) */
1032, /* 4.0.0 – 4.0.14 */
1152, 1144, /* 5.1.x without HTTP server / also without metrics */
992, 984,   /* 4.1.0 – 5.0.9 likewise */
984, 976,   /* 4.0.x likewise */
