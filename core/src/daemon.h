/* The daemon: loads a configuration, runs it (instances, router), and lives through signals:
 * SIGTERM/SIGINT drain and stop, SIGHUP reloads (an invalid new config leaves the old running). */
#ifndef OMNIBUS_DAEMON_H
#define OMNIBUS_DAEMON_H

#include <stdio.h>

#include "config.h"
#include "loader.h"

/* The plugin search path: `cli` (--plugin-dir) if given, else $OMNIBUS_PLUGIN_PATH, else the
 * config's <daemon plugin-dir> (`config_dir`, may be NULL), else the installed default.
 * Returns one of the borrowed strings. */
const char *omb_plugin_path_choose(const char *cli, const char *config_dir);

/* Load and check a config with plugin lookup. Returns 0 and a new config and registry (the
 * caller's), or non-zero with every error in diags. */
int omb_daemon_load(const char *config_path, const char *cli_plugin_dir,
                    struct omb_config **cfg_out, struct omb_registry **reg_out,
                    struct omb_diags *diags);

/* Run `config_path` until SIGTERM/SIGINT. Returns the process exit status. */
int omb_daemon_run(const char *config_path, const char *cli_plugin_dir);

#endif /* OMNIBUS_DAEMON_H */
