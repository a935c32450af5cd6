/* Error code names. */
#include "err_str.h"

const char *omb_strerror(int err)
{
    switch (err) {
    case OMB_OK: return "success";
    case OMB_EINVAL: return "invalid argument or input";
    case OMB_ENOMEM: return "out of memory";
    case OMB_ERETRY: return "temporary failure, retry later";
    case OMB_EREJECT: return "rejected permanently";
    case OMB_ETIMEOUT: return "timed out";
    case OMB_EIO: return "input/output error";
    case OMB_ENOTFOUND: return "not found";
    case OMB_EAGAIN: return "busy, try again";
    case OMB_EABI: return "incompatible plugin ABI";
    case OMB_ESTOPPED: return "stopping";
    default: return "unknown error";
    }
}
