/* A plugin for tests/abi/loader_test.c, built several times: each build makes one thing right or
 * wrong with -D (see tests/abi/abi.mk).
 *
 *   ABI_NAME="x"         the descriptor's name (required)
 *   ABI_MAJOR, ABI_MINOR the ABI it claims (default: this SDK's)
 *   ABI_JANSSON          the jansson major it claims (default: the one compiled against)
 *   ABI_SMALL            struct_size of a descriptor without its reserved tail (too small)
 *   ABI_EXTRA=n          a descriptor with n extra trailing bytes and struct_size to match
 *   ABI_NO_DESCRIPTOR    no omb_plugin_descriptor symbol at all
 *   ABI_NO_CREATE        create is NULL
 *   ABI_SINK             the sink capability; with ABI_NO_DELIVER, no deliver
 */
#include <omnibus/plugin.h>

#ifndef ABI_NAME
#error "define ABI_NAME"
#endif
#ifndef ABI_MAJOR
#define ABI_MAJOR OMB_ABI_MAJOR
#endif
#ifndef ABI_MINOR
#define ABI_MINOR OMB_ABI_MINOR
#endif
#ifndef ABI_JANSSON
#define ABI_JANSSON JANSSON_MAJOR_VERSION
#endif
#ifndef ABI_EXTRA
#define ABI_EXTRA 0
#endif

struct abi_ctx {
    int unused;
};

#define UNUSED __attribute__((unused))

static UNUSED int abi_create(const struct omb_host_api *host, struct omb_instance *self, void *ctx)
{
    return 0;
}

static UNUSED int abi_deliver(void *ctx, const json_t *event, struct omb_deliver_result *res)
{
    return OMB_OK;
}

static UNUSED void abi_destroy(void *ctx)
{
}

#if ABI_EXTRA > 0
/* A newer plugin of the same ABI: its descriptor has fields this SDK does not know. */
struct abi_descriptor {
    struct omb_plugin_descriptor d;
    unsigned char extra[ABI_EXTRA];
};
#define DESCRIPTOR_TYPE struct abi_descriptor
#define DESCRIPTOR_SIZE sizeof(struct abi_descriptor)
#define OPEN .d = {
#define CLOSE }, .extra = { 0xAB }
#else
#define DESCRIPTOR_TYPE struct omb_plugin_descriptor
#define DESCRIPTOR_SIZE sizeof(struct omb_plugin_descriptor)
#define OPEN
#define CLOSE
#endif

#ifdef ABI_SMALL
#undef DESCRIPTOR_SIZE
#define DESCRIPTOR_SIZE offsetof(struct omb_plugin_descriptor, reserved)
#endif

#ifdef ABI_NO_CREATE
#define CREATE NULL
#else
#define CREATE abi_create
#endif

#ifdef ABI_SINK
#define CAPS (OMB_CAP_SOURCE | OMB_CAP_SINK)
#else
#define CAPS OMB_CAP_SOURCE
#endif

#if defined(ABI_NO_DELIVER) || !defined(ABI_SINK)
#define DELIVER NULL
#else
#define DELIVER abi_deliver
#endif

#ifdef ABI_NO_DESCRIPTOR
/* Something else, so that the .so is a plugin in all but the one symbol. */
OMB_PLUGIN_EXPORT const int omb_plugin_description_misspelt = 1;
#else
OMB_PLUGIN_EXPORT const DESCRIPTOR_TYPE omb_plugin_descriptor = {
    OPEN
    .abi_major = ABI_MAJOR,
    .abi_minor = ABI_MINOR,
    .struct_size = (uint32_t)DESCRIPTOR_SIZE,
    .jansson_major = ABI_JANSSON,
    .name = ABI_NAME,
    .version = "0.0.1",
    .description = "an ABI test fixture",
    .kind = OMB_PLUGIN_CONNECTOR,
    .capabilities = CAPS,
    .ctx_size = sizeof(struct abi_ctx),
    .create = CREATE,
    .deliver = DELIVER,
    .destroy = abi_destroy,
    CLOSE
};
#endif
