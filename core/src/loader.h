/* The plugin loader: finds NAME.so on the plugin path, dlopens it (RTLD_NOW|RTLD_LOCAL) and
 * checks its descriptor's ABI before anything of it runs. */
#ifndef OMNIBUS_LOADER_H
#define OMNIBUS_LOADER_H

#include <stddef.h>
#include <omnibus/plugin.h>

/* The size of the ABI 1.0 descriptor: the smallest struct_size the loader accepts. */
#define OMB_DESCRIPTOR_V1_SIZE ((uint32_t)sizeof(struct omb_plugin_descriptor))

struct omb_plugin {
    char *path;                               /* the .so it came from */
    void *dl;                                 /* dlopen handle */
    const struct omb_plugin_descriptor *desc; /* inside the .so, valid until unloaded */
};

struct omb_registry;

/* A registry searching the ':'-separated directories in `path` in order. Returns NULL on ENOMEM. */
struct omb_registry *omb_registry_new(const char *path);

/* The search path as given (borrowed). */
const char *omb_registry_path(const struct omb_registry *reg);

/* Find and load plugin `name` (cached after the first load). Returns the plugin (borrowed, valid
 * until the registry is destroyed) or NULL with a message naming the file and the versions in
 * err. */
const struct omb_plugin *omb_registry_get(struct omb_registry *reg, const char *name, char *err,
                                          size_t errlen);

/* An omb_plugin_lookup_fn over a registry (arg is the registry). */
const struct omb_plugin_descriptor *omb_registry_lookup(void *reg, const char *name, char *err,
                                                        size_t errlen);

/* Unload every plugin and free; NULL-safe, sets *regp to NULL. */
void omb_registry_destroy(struct omb_registry **regp);

/* Open one .so and check its descriptor. Returns 0 and a new plugin (free with omb_plugin_close)
 * or OMB_EABI / OMB_ENOTFOUND / OMB_EINVAL with the reason in err. */
int omb_plugin_open(const char *path, struct omb_plugin **out, char *err, size_t errlen);
void omb_plugin_close(struct omb_plugin **pp);

#endif /* OMNIBUS_LOADER_H */
