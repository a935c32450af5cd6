/* Error code names for the core (plugins get no link-time symbols from the core). */
#ifndef OMNIBUS_ERR_STR_H
#define OMNIBUS_ERR_STR_H

#include <omnibus/err.h>

/* A static string naming `err` (an enum omb_err). */
const char *omb_strerror(int err);

#endif /* OMNIBUS_ERR_STR_H */
