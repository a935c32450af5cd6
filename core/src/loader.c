/* Plugin loader: dlopen NAME.so from the plugin path and check its ABI. */
#include <dlfcn.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err_str.h"
#include "loader.h"

struct registry_entry {
    char *name;
    struct omb_plugin *plugin;
};

struct omb_registry {
    char *path;
    struct registry_entry *v;
    size_t n, cap;
};

static int check_descriptor(const char *path, const struct omb_plugin_descriptor *d, char *err,
                            size_t errlen)
{
    if (d->abi_major != OMB_ABI_MAJOR) {
        snprintf(err, errlen,
                 "%s: plugin built for ABI %u.%u, this omnibusd speaks ABI %d.%d "
                 "(major versions differ): rebuild the plugin against this SDK",
                 path, d->abi_major, d->abi_minor, OMB_ABI_MAJOR, OMB_ABI_MINOR);
        return OMB_EABI;
    }
    if (d->abi_minor > OMB_ABI_MINOR) {
        snprintf(err, errlen,
                 "%s: plugin built for ABI %u.%u, newer than this omnibusd's ABI %d.%d: "
                 "upgrade omnibusd or rebuild the plugin against this SDK",
                 path, d->abi_major, d->abi_minor, OMB_ABI_MAJOR, OMB_ABI_MINOR);
        return OMB_EABI;
    }
    if (d->struct_size < OMB_DESCRIPTOR_V1_SIZE) {
        snprintf(err, errlen,
                 "%s: plugin descriptor is %u bytes, smaller than the %u bytes of ABI %d.0 "
                 "(plugin says ABI %u.%u, omnibusd speaks %d.%d): rebuild the plugin",
                 path, d->struct_size, OMB_DESCRIPTOR_V1_SIZE, OMB_ABI_MAJOR, d->abi_major,
                 d->abi_minor, OMB_ABI_MAJOR, OMB_ABI_MINOR);
        return OMB_EABI;
    }
    if (d->jansson_major != JANSSON_MAJOR_VERSION) {
        snprintf(err, errlen,
                 "%s: plugin built against jansson %u, omnibusd uses jansson %d: rebuild it",
                 path, d->jansson_major, JANSSON_MAJOR_VERSION);
        return OMB_EABI;
    }
    if (!d->name || !d->name[0] || !d->create || !d->destroy || d->ctx_size == 0) {
        snprintf(err, errlen,
                 "%s: plugin descriptor is incomplete (name, ctx_size, create and destroy are "
                 "required)", path);
        return OMB_EINVAL;
    }
    bool raw = d->abi_minor >= 1 && d->deliver_raw; /* a 1.0 plugin's slot is reserved */
    if (d->abi_minor >= 3 && (d->capabilities & OMB_CAP_SNAPSHOT) && !d->snapshot) {
        snprintf(err, errlen, "%s: plugin %s declares the snapshot capability but has no "
                 "snapshot", path, d->name);
        return OMB_EINVAL;
    }
    if ((d->capabilities & OMB_CAP_SINK) && !d->deliver && !raw) {
        snprintf(err, errlen, "%s: plugin %s declares the sink capability but has no deliver",
                 path, d->name);
        return OMB_EINVAL;
    }
    return 0;
}

int omb_plugin_open(const char *path, struct omb_plugin **out, char *err, size_t errlen)
{
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return OMB_ENOTFOUND;
    }
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        snprintf(err, errlen, "%s: cannot load: %s", path, dlerror());
        return OMB_EINVAL;
    }
    const struct omb_plugin_descriptor *d = dlsym(dl, "omb_plugin_descriptor");
    if (!d) {
        snprintf(err, errlen, "%s: not an omnibus plugin (no omb_plugin_descriptor symbol)", path);
        dlclose(dl);
        return OMB_EINVAL;
    }
    int rc = check_descriptor(path, d, err, errlen);
    if (rc != 0) {
        dlclose(dl);
        return rc;
    }
    struct omb_plugin *p = calloc(1, sizeof(*p));
    char *pathdup = strdup(path);
    if (!p || !pathdup) {
        free(p);
        free(pathdup);
        dlclose(dl);
        snprintf(err, errlen, "%s: out of memory", path);
        return OMB_ENOMEM;
    }
    p->path = pathdup;
    p->dl = dl;
    p->desc = d;
    *out = p;
    return 0;
}

void omb_plugin_close(struct omb_plugin **pp)
{
    if (!pp || !*pp) {
        return;
    }
    struct omb_plugin *p = *pp;
    /* Under ASan/valgrind keep the code mapped so that leak reports can still name plugin
     * frames; OMB_NO_DLCLOSE=1 asks for that. */
    const char *keep = getenv("OMB_NO_DLCLOSE");
    if (!(keep && keep[0] == '1')) {
        dlclose(p->dl);
    }
    free(p->path);
    free(p);
    *pp = NULL;
}

struct omb_registry *omb_registry_new(const char *path)
{
    struct omb_registry *reg = calloc(1, sizeof(*reg));
    if (!reg) {
        return NULL;
    }
    reg->path = strdup(path ? path : "");
    if (!reg->path) {
        free(reg);
        return NULL;
    }
    return reg;
}

const char *omb_registry_path(const struct omb_registry *reg)
{
    return reg->path;
}

static int valid_plugin_name(const char *name)
{
    if (!name[0] || strlen(name) > 64) {
        return 0;
    }
    for (const char *c = name; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_')) {
            return 0;
        }
    }
    return 1;
}

const struct omb_plugin *omb_registry_get(struct omb_registry *reg, const char *name, char *err,
                                          size_t errlen)
{
    for (size_t i = 0; i < reg->n; i++) {
        if (strcmp(reg->v[i].name, name) == 0) {
            return reg->v[i].plugin;
        }
    }
    if (!valid_plugin_name(name)) {
        snprintf(err, errlen,
                 "invalid plugin name \"%s\" (expected lowercase letters, digits, '-' or '_')",
                 name);
        return NULL;
    }
    /* Search each directory of the path in order; the first NAME.so found is the one. */
    char *dirs = strdup(reg->path);
    if (!dirs) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    struct omb_plugin *plugin = NULL;
    int rc = OMB_ENOTFOUND;
    char *save = NULL;
    for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char file[4096];
        snprintf(file, sizeof(file), "%s/%s.so", dir, name);
        if (access(file, F_OK) != 0) {
            continue;
        }
        rc = omb_plugin_open(file, &plugin, err, errlen);
        break;
    }
    free(dirs);
    if (rc == OMB_ENOTFOUND) {
        snprintf(err, errlen, "unknown plugin \"%s\": no %s.so in the plugin path \"%s\"", name,
                 name, reg->path);
        return NULL;
    }
    if (rc != 0) {
        return NULL;
    }
    if (strcmp(plugin->desc->name, name) != 0) {
        snprintf(err, errlen, "%s: the file is named %s.so but the plugin calls itself \"%s\"",
                 plugin->path, name, plugin->desc->name);
        omb_plugin_close(&plugin);
        return NULL;
    }
    if (reg->n == reg->cap) {
        size_t cap = reg->cap ? reg->cap * 2 : 8;
        struct registry_entry *v = realloc(reg->v, cap * sizeof(*v));
        if (!v) {
            omb_plugin_close(&plugin);
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        reg->v = v;
        reg->cap = cap;
    }
    char *namedup = strdup(name);
    if (!namedup) {
        omb_plugin_close(&plugin);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    reg->v[reg->n++] = (struct registry_entry){ .name = namedup, .plugin = plugin };
    return plugin;
}

const struct omb_plugin_descriptor *omb_registry_lookup(void *reg, const char *name, char *err,
                                                        size_t errlen)
{
    const struct omb_plugin *p = omb_registry_get(reg, name, err, errlen);
    return p ? p->desc : NULL;
}

void omb_registry_destroy(struct omb_registry **regp)
{
    if (!regp || !*regp) {
        return;
    }
    struct omb_registry *reg = *regp;
    for (size_t i = 0; i < reg->n; i++) {
        omb_plugin_close(&reg->v[i].plugin);
        free(reg->v[i].name);
    }
    free(reg->v);
    free(reg->path);
    free(reg);
    *regp = NULL;
}
