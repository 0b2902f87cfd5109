/* offsetof(struct flb_config, cio); see abi.c */
1192, /* 5.1.1 */
