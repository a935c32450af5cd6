/* A test plugin built for an ABI this omnibusd does not speak: the loader must refuse it. */
#include <stddef.h>

#include <omnibus/plugin.h>

static int create(const struct omb_host_api *host, struct omb_instance *self, void *ctx)
{
    return 0;
}

static void destroy(void *ctx)
{
}

OMB_PLUGIN_EXPORT const struct omb_plugin_descriptor omb_plugin_descriptor = {
    .abi_major = OMB_ABI_MAJOR + 1,
    .abi_minor = 0,
    .struct_size = (uint32_t)sizeof(struct omb_plugin_descriptor),
    .jansson_major = JANSSON_MAJOR_VERSION,
    .name = "testbadabi",
    .version = "9.9",
    .kind = OMB_PLUGIN_CONNECTOR,
    .capabilities = OMB_CAP_SOURCE,
    .ctx_size = 1,
    .create = create,
    .destroy = destroy,
};
