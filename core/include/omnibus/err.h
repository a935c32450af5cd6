/* omnibus public SDK: error codes shared by the core and plugins. */
#ifndef OMNIBUS_ERR_H
#define OMNIBUS_ERR_H

/* Functions return 0 on success and a negative enum omb_err on failure. */
enum omb_err {
    OMB_OK = 0,
    OMB_EINVAL = -1,   /* bad argument or bad input (a config value, an event) */
    OMB_ENOMEM = -2,   /* allocation failed */
    OMB_ERETRY = -3,   /* transient failure: try again later (deliver, start) */
    OMB_EREJECT = -4,  /* permanent failure: retrying will not help (deliver) */
    OMB_ETIMEOUT = -5, /* a deadline passed */
    OMB_EIO = -6,      /* an operating-system or network I/O error */
    OMB_ENOTFOUND = -7,/* no such thing (plugin, connector, key) */
    OMB_EAGAIN = -8,   /* backpressure: the receiver is full, the caller keeps ownership */
    OMB_EABI = -9,     /* a plugin built for an incompatible ABI */
    OMB_ESTOPPED = -10 /* the instance or daemon is stopping and accepts no more */
};

#endif /* OMNIBUS_ERR_H */
