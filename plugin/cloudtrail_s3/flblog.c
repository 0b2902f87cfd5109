/* Logging for the cloudtrail_s3 input: see plugin/include/flb_log_bridge.h. */
#include "flblog.h"
#include "flb_log_bridge.h"

void cts3_log(int level, const char *msg)
{
    flb_bridge_log(level, "input:cloudtrail_s3", msg);
}
