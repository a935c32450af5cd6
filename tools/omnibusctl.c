/* omnibusctl: the command line of the admin client (docs/omnibusctl.md). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "omnibusctl.h"

#ifndef OMBCTL_VERSION
#define OMBCTL_VERSION "0.1.0"
#endif

/* What a command sends and how its result is shown. */
struct command {
    const char *name;
    size_t min_args, max_args;
    int (*view)(const json_t *result, FILE *out);
};

static const struct command commands[] = {
    {"status", 0, 0, ombctl_view_status},
    {"connectors", 0, 0, ombctl_view_connectors},
    {"routes", 0, 0, ombctl_view_routes},
    {"metrics", 0, 0, ombctl_view_metrics},
    {"reload", 0, 0, ombctl_view_reload},
    {"pause", 1, 1, ombctl_view_pause},
    {"resume", 1, 1, ombctl_view_pause},
    {"log-level", 1, 2, ombctl_view_log_level},
    {"dead-letters", 0, 0, ombctl_view_dead_letters},
    {"dead-letter", 1, 1, ombctl_view_dead_letter},
    {"replay", 0, 1, ombctl_view_replay},
    {"edit", 1, 1, ombctl_view_edit},
    {"drop", 0, 1, ombctl_view_drop},
    {"snapshot", 3, 4, ombctl_view_snapshot},
    {"help", 0, 0, NULL},
};

static const char *const levels[] = {"error", "warn", "info", "debug"};

struct cli {
    const char *socket;
    double timeout_s;
    bool timeout_given;
    bool json, prometheus;
    const char *cmd;
    const char *args[4];
    size_t nargs;
    struct ombctl_dlq_opts dlq;
};

static void usage(FILE *out)
{
    char *def = ombctl_endpoint_default();
    fprintf(out,
            "usage: omnibusctl [--socket ENDPOINT] [--json] [--timeout SECONDS] COMMAND [ARGS]\n"
            "\n"
            "commands:\n"
            "  status                     the daemon, its config, connectors and routes\n"
            "  connectors                 each connector: plugin, state, delivery counters\n"
            "  routes                     each route: sources, filter, transform, destinations\n"
            "  metrics [--prometheus]     route and destination counters, latency quantiles\n"
            "  reload                     reload the config file (an invalid one is refused)\n"
            "  snapshot CONNECTOR stock|price SKU,... [LOCATION,...]\n"
            "                             what the connector's system holds now\n"
            "  pause ROUTE                hold a route's events (nothing is dropped)\n"
            "  resume ROUTE               release them, in order\n"
            "  log-level [INSTANCE] LEVEL set the log level (error, warn, info, debug) of the\n"
            "                             daemon, or of one connector\n"
            "  dead-letters [--destination D] [--route R] [--type T] [--older-than DURATION]\n"
            "               [--state dead|replay|held] [--limit N] [--after ID]\n"
            "                             list dead letters (100 by default)\n"
            "  dead-letter ID             one dead letter: its errors, envelope and body\n"
            "  replay ID | --all | FILTERS\n"
            "                             deliver dead letters again (same event id and trace)\n"
            "  edit ID [--body JSON | --body-file FILE]\n"
            "                             replace a dead letter's body (else read from standard\n"
            "                             input) and replay it\n"
            "  drop ID | --all | FILTERS  delete dead letters\n"
            "  help                       this text\n"
            "\n"
            "options:\n"
            "  -s, --socket ENDPOINT  the admin socket: ipc://PATH, tcp://HOST:PORT, or a PATH\n"
            "                         (default: $OMNIBUS_ADMIN, else %s)\n"
            "  -j, --json             print the result as JSON\n"
            "  -t, --timeout SECONDS  how long to wait for the answer (default: %g)\n"
            "      --prometheus       metrics in the Prometheus text format\n"
            "  -V, --version          print the version and exit\n"
            "  -h, --help             this text\n"
            "\n"
            "FILTERS: --destination D, --route R, --type T, --older-than DURATION (30s, 10m, 24h:\n"
            "its latest attempt longer ago than that); together, a dead letter matches them all.\n"
            "\n"
            "Exit status: 0 ok, 1 the daemon answered with an error, 2 usage error,\n"
            "3 the daemon is unreachable.\n",
            def ? def : "the daemon's default", OMBCTL_TIMEOUT_S);
    free(def);
}

int ombctl_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("omnibusctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see omnibusctl --help)\n", stderr);
    va_end(ap);
    return OMBCTL_EXIT_USAGE;
}

/* The value of an option given as --name=VALUE or --name VALUE / -x VALUE. */
static const char *option_value(int argc, char **argv, int *i, const char *eq)
{
    if (eq) {
        return eq + 1;
    }
    if (*i + 1 >= argc) {
        return NULL;
    }
    return argv[++*i];
}

static bool is_option(const char *a, const char *shortname, const char *longname, size_t *n)
{
    size_t l = strlen(longname);
    if (shortname && strcmp(a, shortname) == 0) {
        *n = strlen(a);
        return true;
    }
    if (strncmp(a, longname, l) == 0 && (a[l] == '\0' || a[l] == '=')) {
        *n = l;
        return true;
    }
    return false;
}

/* Parse the command line. Returns -1 to go on, else the exit status (help, version, usage). */
static int parse(int argc, char **argv, struct cli *cli)
{
    bool options = true;
    cli->timeout_s = OMBCTL_TIMEOUT_S;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        size_t n = 0;
        if (!options || a[0] != '-' || a[1] == '\0') {
            if (!cli->cmd) {
                cli->cmd = a;
            } else if (cli->nargs < 4) {
                cli->args[cli->nargs++] = a;
            } else {
                return ombctl_usage_error("too many arguments, from '%s'", a);
            }
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options = false;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return OMBCTL_EXIT_OK;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("omnibusctl %s (admin protocol %d)\n", OMBCTL_VERSION, OMBCTL_PROTOCOL);
            return OMBCTL_EXIT_OK;
        } else if (strcmp(a, "-j") == 0 || strcmp(a, "--json") == 0) {
            cli->json = true;
        } else if (strcmp(a, "--prometheus") == 0) {
            cli->prometheus = true;
        } else if (is_option(a, "-s", "--socket", &n)) {
            cli->socket = option_value(argc, argv, &i, a[n] == '=' ? a + n : NULL);
            if (!cli->socket || !*cli->socket) {
                return ombctl_usage_error("%s needs an endpoint", "--socket");
            }
        } else if (is_option(a, "-t", "--timeout", &n)) {
            const char *v = option_value(argc, argv, &i, a[n] == '=' ? a + n : NULL);
            char *end = NULL;
            errno = 0;
            double t = v ? strtod(v, &end) : 0;
            if (!v || end == v || *end || errno || !isfinite(t) || t <= 0 || t > 86400) {
                return ombctl_usage_error("--timeout needs a number of seconds, above 0 and "
                                          "at most 86400, not '%s'",
                                          v ? v : "");
            }
            cli->timeout_s = t;
            cli->timeout_given = true;
        } else {
            bool taken = false;
            int st = ombctl_dlq_option(argc, argv, &i, &cli->dlq, &taken);
            if (st >= 0) {
                return st;
            }
            if (!taken) {
                return ombctl_usage_error("unknown option '%s'", a);
            }
        }
    }
    return -1;
}

static const struct command *find(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

/* Check the command's arguments and build the request. Returns -1 to go on, with *request new;
 * else the exit status of a usage error. */
static int build(const struct cli *cli, const struct command *c, json_t **request)
{
    json_t *args = NULL;
    *request = NULL;
    if (cli->nargs < c->min_args) {
        return ombctl_usage_error("%s: missing argument", c->name);
    }
    if (cli->nargs > c->max_args) {
        return ombctl_usage_error("%s: too many arguments", c->name);
    }
    if (cli->prometheus && strcmp(c->name, "metrics") != 0) {
        return ombctl_usage_error("--prometheus goes with metrics, not %s", c->name);
    }
    if (cli->prometheus && cli->json) {
        return ombctl_usage_error("%s", "--prometheus and --json exclude each other");
    }
    if (ombctl_dlq_is(c->name)) {
        int st = ombctl_dlq_args(c->name, cli->args, cli->nargs, &cli->dlq, &args);
        if (st >= 0) {
            return st;
        }
    } else if (cli->dlq.first) {
        return ombctl_usage_error("%s goes with dead-letters, dead-letter, replay, edit or drop, "
                                  "not %s",
                                  cli->dlq.first, c->name);
    } else if (strcmp(c->name, "snapshot") == 0) {
        if (strcmp(cli->args[1], "stock") != 0 && strcmp(cli->args[1], "price") != 0) {
            return ombctl_usage_error("snapshot: what is stock or price, not '%s'",
                                      cli->args[1]);
        }
        args = json_pack("{s:s, s:s, s:o}", "connector", cli->args[0], "what", cli->args[1],
                         "skus", ombctl_split_list(cli->args[2]));
        if (args && cli->nargs == 4) {
            json_object_set_new(args, "locations", ombctl_split_list(cli->args[3]));
        }
    } else if (strcmp(c->name, "pause") == 0 || strcmp(c->name, "resume") == 0) {
        args = json_pack("{ss}", "route", cli->args[0]);
    } else if (strcmp(c->name, "log-level") == 0) {
        const char *level = cli->args[cli->nargs - 1];
        bool known = false;
        for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
            known = known || strcmp(level, levels[i]) == 0;
        }
        if (!known) {
            return ombctl_usage_error("log-level: unknown level '%s' (error, warn, info or "
                                      "debug)",
                                      level);
        }
        args = cli->nargs == 2 ? json_pack("{ssss}", "instance", cli->args[0], "level", level)
                               : json_pack("{ss}", "level", level);
    }
    /* json_pack fails on invalid UTF-8 in an argument (and when out of memory). */
    if (c->max_args > 0 && !args) {
        return ombctl_usage_error("%s: arguments must be UTF-8 text", c->name);
    }
    *request = args ? json_pack("{sissso}", "v", OMBCTL_PROTOCOL, "cmd", c->name, "args", args)
                    : json_pack("{siss}", "v", OMBCTL_PROTOCOL, "cmd", c->name);
    if (!*request) {
        return ombctl_usage_error("%s: cannot build the request (out of memory)", c->name);
    }
    return -1;
}

/* ok: false: "omnibusctl: CODE: MESSAGE", then each line of "errors" (reload). */
static int daemon_error(const json_t *answer)
{
    const json_t *err = json_object_get(answer, "error");
    const char *c = json_string_value(json_object_get(err, "code"));
    const char *m = json_string_value(json_object_get(err, "message"));
    char *code = ombctl_clean(c ? c : "?");
    char *msg = ombctl_clean(m ? m : "?");
    fprintf(stderr, "omnibusctl: %s: %s\n", code ? code : "?", msg ? msg : "?");
    free(code);
    free(msg);
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(answer, "errors"), i, e)
    {
        char *line = json_is_string(e) ? ombctl_clean(json_string_value(e)) : NULL;
        if (line) {
            fprintf(stderr, "%s\n", line);
        }
        free(line);
    }
    return OMBCTL_EXIT_ANSWER;
}

static int show(const struct cli *cli, const struct command *c, const json_t *result,
                const char *endpoint)
{
    int rc;
    if (cli->json) {
        rc = json_dumpf(result, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY) == 0 ? 0 : OMB_EIO;
        fputc('\n', stdout);
    } else if (cli->prometheus) {
        rc = ombctl_prometheus(result, stdout);
    } else {
        rc = c->view(result, stdout);
    }
    if (rc == OMB_EINVAL) {
        fprintf(stderr,
                "omnibusctl: bad answer from omnibusd at %s: the result of %s has the "
                "wrong shape (see docs/admin-protocol.md; --json prints it as it came)\n",
                endpoint, c->name);
        return OMBCTL_EXIT_ANSWER;
    }
    if (fflush(stdout) != 0 || ferror(stdout) || rc != 0) {
        fprintf(stderr, "omnibusctl: cannot write the output: %s\n",
                rc == OMB_ENOMEM ? "out of memory" : strerror(errno));
        return OMBCTL_EXIT_ANSWER;
    }
    return OMBCTL_EXIT_OK;
}

int main(int argc, char **argv)
{
    struct cli cli = {0};
    json_t *request = NULL, *answer = NULL;
    char *endpoint = NULL;
    char why[512] = "";
    int status = parse(argc, argv, &cli);
    if (status >= 0) {
        return status;
    }
    if (!cli.cmd) {
        fprintf(stderr, "omnibusctl: no command given\n");
        usage(stderr);
        return OMBCTL_EXIT_USAGE;
    }
    const struct command *c = find(cli.cmd);
    if (!c) {
        return ombctl_usage_error("unknown command '%s'", cli.cmd);
    }
    if (!c->view) {
        usage(stdout);
        return OMBCTL_EXIT_OK;
    }
    status = build(&cli, c, &request);
    if (status >= 0) {
        return status;
    }
    endpoint = ombctl_endpoint_choose(cli.socket);
    if (!endpoint) {
        fprintf(stderr, "omnibusctl: out of memory\n");
        status = OMBCTL_EXIT_ANSWER;
        goto out;
    }
    if (!cli.timeout_given && cli.cmd && strcmp(cli.cmd, "snapshot") == 0) {
        /* The daemon waits up to 60 s for a system that paces its reads (Shopify's rate limit):
         * wait for its answer, not less. */
        cli.timeout_s = OMBCTL_SNAPSHOT_TIMEOUT_S;
    }
    int rc = ombctl_request(endpoint, (int)ceil(cli.timeout_s * 1000), request, &answer, why,
                            sizeof(why));
    if (rc == OMB_EINVAL) {
        fprintf(stderr, "omnibusctl: invalid endpoint '%s': %s (see omnibusctl --help)\n", endpoint,
                why);
        status = OMBCTL_EXIT_USAGE;
    } else if (rc == OMB_EREJECT) {
        fprintf(stderr, "omnibusctl: bad answer from omnibusd at %s: %s\n", endpoint, why);
        status = OMBCTL_EXIT_ANSWER;
    } else if (rc == OMB_ENOMEM) {
        fprintf(stderr, "omnibusctl: out of memory\n");
        status = OMBCTL_EXIT_ANSWER;
    } else if (rc != 0) {
        fprintf(stderr,
                "omnibusctl: cannot reach omnibusd at %s: %s (is omnibusd running? choose "
                "another with --socket or OMNIBUS_ADMIN)\n",
                endpoint, why);
        status = OMBCTL_EXIT_UNREACHABLE;
    } else if (json_is_false(json_object_get(answer, "ok"))) {
        status = daemon_error(answer);
    } else {
        status = show(&cli, c, json_object_get(answer, "result"), endpoint);
    }
out:
    json_decref(answer);
    json_decref(request);
    free(endpoint);
    return status;
}
