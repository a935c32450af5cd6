/* Loader test: core/src/loader.c against the fixture plugins of tests/abi/ (abi_plugin.c built
 * with a wrong ABI each) and the real connectors. Every refusal must name the file and both
 * versions, exactly. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"
#include "plugins/harness.h"
#include "testlib.h"

static const char *top;

/* The built fixture NAME.so (new string). */
static char *fixture(const char *name)
{
    return harness_path("%s/tests/abi/.libs/%s.so", top, name);
}

/* omb_plugin_open(fixture) fails with rc and exactly the message fmt % path. */
static void refused(const char *name, int rc, const char *fmt_tail)
{
    char err[1024] = "";
    struct omb_plugin *p = NULL;
    char *path = fixture(name);
    char *want = harness_path("%s: %s", path, fmt_tail);
    CHECK(omb_plugin_open(path, &p, err, sizeof(err)) == rc);
    CHECK(p == NULL);
    CHECK_STR(err, want);
    free(want);
    free(path);
}

static void test_open(void)
{
    char tail[512];

    snprintf(tail, sizeof(tail),
             "plugin built for ABI 2.%d, this omnibusd speaks ABI %d.%d (major versions differ): "
             "rebuild the plugin against this SDK",
             OMB_ABI_MINOR, OMB_ABI_MAJOR, OMB_ABI_MINOR);
    refused("abi_major2", OMB_EABI, tail);

    snprintf(tail, sizeof(tail),
             "plugin built for ABI %d.99, newer than this omnibusd's ABI %d.%d: upgrade omnibusd "
             "or rebuild the plugin against this SDK",
             OMB_ABI_MAJOR, OMB_ABI_MAJOR, OMB_ABI_MINOR);
    refused("abi_minor99", OMB_EABI, tail);

    snprintf(tail, sizeof(tail),
             "plugin descriptor is %zu bytes, smaller than the %zu bytes of ABI %d.0 (plugin says "
             "ABI %d.%d, omnibusd speaks %d.%d): rebuild the plugin",
             offsetof(struct omb_plugin_descriptor, reserved),
             sizeof(struct omb_plugin_descriptor), OMB_ABI_MAJOR, OMB_ABI_MAJOR, OMB_ABI_MINOR,
             OMB_ABI_MAJOR, OMB_ABI_MINOR);
    refused("abi_small", OMB_EABI, tail);

    snprintf(tail, sizeof(tail),
             "plugin built against jansson 1, omnibusd uses jansson %d: rebuild it",
             JANSSON_MAJOR_VERSION);
    refused("abi_jansson1", OMB_EABI, tail);

    refused("abi_nosym", OMB_EINVAL, "not an omnibus plugin (no omb_plugin_descriptor symbol)");
    refused("abi_nocreate", OMB_EINVAL,
            "plugin descriptor is incomplete (name, ctx_size, create and destroy are required)");
    refused("abi_nodeliver", OMB_EINVAL,
            "plugin abi_nodeliver declares the sink capability but has no deliver");

    /* Minor 0 with a larger descriptor (a newer plugin with trailing fields): accepted, and only
     * the fields the loader knows are read. */
    char err[1024] = "";
    struct omb_plugin *p = NULL;
    char *path = fixture("abi_good");
    CHECK(omb_plugin_open(path, &p, err, sizeof(err)) == 0);
    CHECK(p != NULL);
    if (p) {
        CHECK_STR(p->path, path);
        CHECK_STR(p->desc->name, "abi_good");
        CHECK(p->desc->abi_minor == 0);
        CHECK(p->desc->struct_size == sizeof(struct omb_plugin_descriptor) + 64);
        CHECK(p->desc->deliver != NULL);
    }
    omb_plugin_close(&p);
    CHECK(p == NULL);
    omb_plugin_close(&p);
    free(path);

    /* Not there; not a shared object. */
    char *tmp = harness_tmpdir("loader_test_open");
    path = harness_path("%s/none.so", tmp);
    char *want = harness_path("%s: No such file or directory", path);
    CHECK(omb_plugin_open(path, &p, err, sizeof(err)) == OMB_ENOTFOUND);
    CHECK_STR(err, want);
    free(want);
    CHECK(harness_write_file(path, "not ELF\n") == 0);
    CHECK(omb_plugin_open(path, &p, err, sizeof(err)) == OMB_EINVAL);
    want = harness_path("%s: cannot load: ", path);
    CHECK(strncmp(err, want, strlen(want)) == 0);
    free(want);
    free(path);
    free(tmp);
}

/* dir/link.so -> the fixture `target`. */
static void link_fixture(const char *dir, const char *link, const char *target)
{
    char *from = fixture(target);
    char *to = harness_path("%s/%s.so", dir, link);
    CHECK(symlink(from, to) == 0);
    free(from);
    free(to);
}

static void test_registry(void)
{
    char err[1024];
    char *tmp = harness_tmpdir("loader_test_registry");
    char *a = harness_path("%s/a", tmp), *b = harness_path("%s/b", tmp);
    char *c = harness_path("%s/c", tmp), *d = harness_path("%s/d", tmp);
    CHECK(mkdir(a, 0755) == 0 && mkdir(b, 0755) == 0 && mkdir(c, 0755) == 0 &&
          mkdir(d, 0755) == 0);
    link_fixture(b, "abi_good", "abi_good");
    link_fixture(c, "abi_good", "abi_good");
    link_fixture(b, "x", "abi_misnamed");
    link_fixture(c, "abi_major2", "abi_major2");
    link_fixture(d, "abi_good", "abi_major2"); /* a broken plugin of the same name */

    /* Directories are searched in order; missing or empty ones are passed over. */
    char *path = harness_path("%s/missing:%s:%s:%s", tmp, a, b, c);
    struct omb_registry *reg = omb_registry_new(path);
    CHECK(reg != NULL);
    CHECK_STR(omb_registry_path(reg), path);
    const struct omb_plugin *p = omb_registry_get(reg, "abi_good", err, sizeof(err));
    CHECK(p != NULL);
    char *want = harness_path("%s/abi_good.so", b);
    CHECK(p && strcmp(p->path, want) == 0);
    free(want);
    CHECK(omb_registry_get(reg, "abi_good", err, sizeof(err)) == p); /* cached */
    CHECK(omb_registry_lookup(reg, "abi_good", err, sizeof(err)) == (p ? p->desc : NULL));

    /* Unknown. */
    CHECK(omb_registry_get(reg, "nothere", err, sizeof(err)) == NULL);
    want = harness_path("unknown plugin \"nothere\": no nothere.so in the plugin path \"%s\"",
                        path);
    CHECK_STR(err, want);
    free(want);
    CHECK(omb_registry_lookup(reg, "nothere", err, sizeof(err)) == NULL);

    /* Not a valid name. */
    CHECK(omb_registry_get(reg, "../x", err, sizeof(err)) == NULL);
    CHECK_STR(err, "invalid plugin name \"../x\" (expected lowercase letters, digits, '-' or '_')");

    /* x.so whose descriptor says someone-else. */
    CHECK(omb_registry_get(reg, "x", err, sizeof(err)) == NULL);
    want = harness_path("%s/x.so: the file is named x.so but the plugin calls itself "
                        "\"someone-else\"",
                        b);
    CHECK_STR(err, want);
    free(want);

    /* A refusal through the registry names the file it found. */
    CHECK(omb_registry_get(reg, "abi_major2", err, sizeof(err)) == NULL);
    want = harness_path("%s/abi_major2.so: plugin built for ABI 2.%d", c, OMB_ABI_MINOR);
    CHECK(strncmp(err, want, strlen(want)) == 0);
    free(want);
    omb_registry_destroy(&reg);
    CHECK(reg == NULL);
    omb_registry_destroy(&reg);
    free(path);

    /* Order reversed: c's copy wins. */
    path = harness_path("%s:%s", c, b);
    reg = omb_registry_new(path);
    p = omb_registry_get(reg, "abi_good", err, sizeof(err));
    want = harness_path("%s/abi_good.so", c);
    CHECK(p && strcmp(p->path, want) == 0);
    free(want);
    omb_registry_destroy(&reg);
    free(path);

    /* The first NAME.so found is the one, even when it is refused: no silent fallback to an
     * older copy further down the path. */
    path = harness_path("%s:%s", d, b);
    reg = omb_registry_new(path);
    CHECK(omb_registry_get(reg, "abi_good", err, sizeof(err)) == NULL);
    want = harness_path("%s/abi_good.so: plugin built for ABI 2.", d);
    CHECK(strncmp(err, want, strlen(want)) == 0);
    free(want);
    omb_registry_destroy(&reg);
    free(path);

    free(a);
    free(b);
    free(c);
    free(d);
    free(tmp);
}

/* The real connectors pass the real loader. */
static void test_connectors(void)
{
    char err[1024] = "";
    char *path = harness_path("%s/connectors/file/.libs:%s/connectors/null/.libs:"
                              "%s/connectors/example/.libs",
                              top, top, top);
    struct omb_registry *reg = omb_registry_new(path);
    static const char *const names[] = { "file", "null", "example" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const struct omb_plugin *p = omb_registry_get(reg, names[i], err, sizeof(err));
        CHECK(p != NULL);
        if (!p) {
            fprintf(stderr, "%s\n", err);
            continue;
        }
        CHECK_STR(p->desc->name, names[i]);
        CHECK(p->desc->abi_major == OMB_ABI_MAJOR && p->desc->abi_minor == OMB_ABI_MINOR);
        for (const struct omb_option *o = p->desc->options; o && o->name; o++) {
            CHECK(o->doc && o->doc[0]);
        }
    }
    omb_registry_destroy(&reg);
    free(path);
}

int main(void)
{
    top = getenv("top_builddir");
    if (!top) {
        top = ".";
    }
    test_open();
    test_registry();
    test_connectors();
    return test_result();
}
