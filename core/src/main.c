/* omnibusd: the command line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omnibus/plugin.h>
#include "daemon.h"
#include "diag.h"
#include "loader.h"
#include "isolate.h"
#include "log.h"
#include "options.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "usage: omnibusd -c FILE [--plugin-dir DIRS] [--log-level LEVEL]\n"
            "       omnibusd --check -c FILE [--plugin-dir DIRS]\n"
            "       omnibusd --plugin-doc NAME [--plugin-dir DIRS]\n"
            "       omnibusd --version\n"
            "\n"
            "  -c, --config FILE      the configuration (omnibus.xml)\n"
            "  -t, --check            validate the configuration and exit: 0 when valid,\n"
            "                         1 with every error as FILE:LINE: message\n"
            "  -p, --plugin-dir DIRS  ':'-separated plugin directories (default: "
            "$OMNIBUS_PLUGIN_PATH,\n"
            "                         else <daemon plugin-dir>, else %s)\n"
            "  -d, --plugin-doc NAME  print a plugin's options and exit\n"
            "  -l, --log-level LEVEL  error, warn, info or debug (overrides the config)\n"
            "  -V, --version          print the version and exit\n"
            "  -h, --help             this text\n"
            "\n"
            "Signals: SIGTERM/SIGINT drain in-flight deliveries and exit 0; SIGHUP reloads the\n"
            "configuration (an invalid one is refused and the running one stays).\n",
            OMB_PLUGIN_DIR);
}

static int check_config(const char *path, const char *plugin_dir)
{
    struct omb_diags diags;
    struct omb_config *cfg = NULL;
    struct omb_registry *reg = NULL;
    omb_diags_init(&diags);
    int rc = omb_daemon_load(path, plugin_dir, &cfg, &reg, &diags);
    omb_diags_print(&diags, stderr);
    if (rc == 0) {
        printf("%s: ok (%zu connector(s), %zu route(s))\n", path, cfg->n_connectors,
               cfg->n_routes);
    }
    omb_config_destroy(&cfg);
    omb_registry_destroy(&reg);
    omb_diags_clear(&diags);
    return rc == 0 ? 0 : 1;
}

static int plugin_doc(const char *name, const char *plugin_dir)
{
    char err[1024];
    struct omb_registry *reg = omb_registry_new(omb_plugin_path_choose(plugin_dir, NULL));
    if (!reg) {
        fprintf(stderr, "omnibusd: out of memory\n");
        return 1;
    }
    const struct omb_plugin *p = omb_registry_get(reg, name, err, sizeof(err));
    if (!p) {
        fprintf(stderr, "omnibusd: %s\n", err);
        omb_registry_destroy(&reg);
        return 1;
    }
    omb_options_doc(p->desc, stdout);
    omb_registry_destroy(&reg);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check", no_argument, NULL, 't' },
        { "plugin-dir", required_argument, NULL, 'p' },
        { "plugin-doc", required_argument, NULL, 'd' },
        { "log-level", required_argument, NULL, 'l' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    /* Internal: the supervised child process of an isolate="process" connector (isolate.h). */
    if (argc == 3 && strcmp(argv[1], "--isolated-child") == 0) {
        return omb_isolate_child_main(argv[2]);
    }
    const char *config = NULL, *plugin_dir = NULL, *doc = NULL, *level = NULL;
    bool check = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:tp:d:l:Vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 't': check = true; break;
        case 'p': plugin_dir = optarg; break;
        case 'd': doc = optarg; break;
        case 'l': level = optarg; break;
        case 'V':
            printf("omnibusd %s (plugin ABI %d.%d)\n", PACKAGE_VERSION, OMB_ABI_MAJOR,
                   OMB_ABI_MINOR);
            return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "omnibusd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (doc) {
        return plugin_doc(doc, plugin_dir);
    }
    if (!config) {
        fprintf(stderr, "omnibusd: no configuration given (-c FILE)\n");
        usage(stderr);
        return 2;
    }
    if (check) {
        return check_config(config, plugin_dir);
    }
    if (level) {
        int l = omb_log_level_parse(level);
        if (l < 0) {
            fprintf(stderr, "omnibusd: unknown log level '%s' (error, warn, info, debug)\n",
                    level);
            return 2;
        }
        setenv("OMB_LOG_LEVEL", level, 1);
    }
    return omb_daemon_run(config, plugin_dir);
}
