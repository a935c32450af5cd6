/* omnibus public SDK: log levels. */
#ifndef OMNIBUS_LOG_H
#define OMNIBUS_LOG_H

enum omb_log_level {
    OMB_LOG_ERROR = 0,
    OMB_LOG_WARN = 1,
    OMB_LOG_INFO = 2,
    OMB_LOG_DEBUG = 3
};

#endif /* OMNIBUS_LOG_H */
