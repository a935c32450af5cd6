/* omnibusd --plugin-doc: a plugin's descriptor and option table as readable text. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

static void print_words(FILE *f, const char *const *words, const char *sep)
{
    for (size_t i = 0; words && words[i]; i++) {
        fprintf(f, "%s%s", i ? sep : "", words[i]);
    }
}

/* The "type" column: "enum (csv|json)", "int (1..100)", "duration (10ms..1h)". */
static char *type_text(const struct omb_option *o)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    if (!f) {
        return NULL;
    }
    fputs(omb_option_type_name(o->type) ? omb_option_type_name(o->type) : "?", f);
    if (o->type == OMB_OPT_ENUM) {
        fputs(" (", f);
        print_words(f, o->enum_values, "|");
        fputs(")", f);
    } else if (o->min != 0 || o->max != 0) {
        char lo[32];
        char hi[32];
        omb_option_format_number(o->type, o->min, lo, sizeof(lo));
        omb_option_format_number(o->type, o->max, hi, sizeof(hi));
        fprintf(f, " (%s..%s)", lo, hi);
    }
    if (o->flags & OMB_OPTF_MULTI) {
        fputs(", repeatable", f);
    }
    fclose(f);
    return s;
}

static void doc_words(FILE *out, const char *label, const char *const *words)
{
    fprintf(out, "%-14s", label);
    if (!words || !words[0]) {
        fputs("-", out);
    }
    print_words(out, words, ", ");
    fputc('\n', out);
}

void omb_options_doc(const struct omb_plugin_descriptor *desc, FILE *out)
{
    const struct omb_option *t = desc->options;
    size_t rows = 0;
    int wname = 4;
    int wtype = 4;
    int wdef = 7;
    char **types = NULL;

    fprintf(out, "%-14s%s%s%s\n", "plugin:", desc->name, desc->version ? " " : "",
            desc->version ? desc->version : "");
    fprintf(out, "%-14s%s\n", "description:", desc->description ? desc->description : "-");
    fprintf(out, "%-14s%s\n", "kind:",
            desc->kind == OMB_PLUGIN_CONNECTOR   ? "connector"
            : desc->kind == OMB_PLUGIN_PROCESSOR ? "processor"
                                                 : "unknown");
    const char *caps[4] = { NULL, NULL, NULL, NULL };
    size_t ncaps = 0;
    if (desc->capabilities & OMB_CAP_SOURCE) {
        caps[ncaps++] = "source";
    }
    if (desc->capabilities & OMB_CAP_SINK) {
        caps[ncaps++] = "sink";
    }
    if (desc->abi_minor >= 3 && (desc->capabilities & OMB_CAP_SNAPSHOT)) {
        caps[ncaps++] = "snapshot";
    }
    doc_words(out, "capabilities:", caps);
    doc_words(out, "consumes:", desc->consumes);
    doc_words(out, "produces:", desc->produces);
    while (t && t[rows].name) {
        rows++;
    }
    if (rows == 0) {
        fputs("options:      none\n", out);
        return;
    }
    types = calloc(rows, sizeof(*types));
    if (!types) {
        return;
    }
    for (size_t i = 0; i < rows; i++) {
        types[i] = type_text(&t[i]);
        int l = (int)strlen(t[i].name);
        wname = l > wname ? l : wname;
        l = types[i] ? (int)strlen(types[i]) : 1;
        wtype = l > wtype ? l : wtype;
        l = t[i].default_value ? (int)strlen(t[i].default_value) : 1;
        wdef = l > wdef ? l : wdef;
    }
    fputs("options:\n", out);
    fprintf(out, "  %-*s  %-*s  %-*s  %-8s  %-9s  %s\n", wname, "NAME", wtype, "TYPE", wdef,
            "DEFAULT", "REQUIRED", "SENSITIVE", "DESCRIPTION");
    for (size_t i = 0; i < rows; i++) {
        const struct omb_option *o = &t[i];
        bool sensitive = o->type == OMB_OPT_SECRET || (o->flags & OMB_OPTF_SENSITIVE);
        fprintf(out, "  %-*s  %-*s  %-*s  %-8s  %-9s  %s%s\n", wname, o->name, wtype,
                types[i] ? types[i] : "?", wdef, o->default_value ? o->default_value : "-",
                (o->flags & OMB_OPTF_REQUIRED) ? "yes" : "no", sensitive ? "yes" : "no",
                (o->flags & OMB_OPTF_DEPRECATED) ? "(deprecated) " : "", o->doc ? o->doc : "-");
        free(types[i]);
    }
    free(types);
}
