/* Plugin test: connectors/null (null.so in the harness host). */
#include <stdlib.h>

#include "plugins/harness.h"
#include "testlib.h"

int main(void)
{
    struct omb_deliver_result res;
    char err[256];
    json_t *ev = json_pack("{s:s, s:{s:i}}", "type", "stock.level", "body", "on_hand", 3);

    /* Defaults: discard silently. */
    struct harness *h = harness_new("null");
    CHECK(h != NULL);
    if (!h) {
        return 1;
    }
    CHECK_STR(harness_descriptor(h)->name, "null");
    CHECK(harness_descriptor(h)->capabilities == OMB_CAP_SINK);
    const char *top = getenv("top_srcdir");
    char *doc = harness_path("%s/docs/connectors/null.md", top ? top : ".");
    CHECK(harness_options_documented(h, doc));
    free(doc);
    CHECK(harness_create(h) == 0);
    CHECK(harness_validate(h, err, sizeof(err)) == 0);
    CHECK(harness_start(h) == 0);
    for (int i = 0; i < 10; i++) {
        CHECK(harness_deliver(h, ev, &res) == OMB_OK);
    }
    CHECK(harness_counter(h, "events_discarded") == 10);
    CHECK(harness_log_count(h, -1, NULL) == 0);
    CHECK(harness_emitted(h) == 0);
    CHECK(harness_stop(h) == 0);
    CHECK(harness_stop(h) == 0);
    harness_destroy(&h);

    /* log-every 4: a line at 4 and 8. */
    h = harness_new("null");
    CHECK(harness_set_option(h, "log-every", "4") == 0);
    CHECK(harness_create(h) == 0);
    CHECK(harness_start(h) == 0);
    for (int i = 0; i < 10; i++) {
        CHECK(harness_deliver(h, ev, &res) == OMB_OK);
    }
    CHECK(harness_log_count(h, OMB_LOG_INFO, NULL) == 2);
    CHECK(harness_log_count(h, OMB_LOG_INFO, "8 events discarded") == 1);
    CHECK(harness_counter(h, "events_discarded") == 10);
    harness_destroy(&h);

    /* A negative count is out of range. */
    h = harness_new("null");
    CHECK(harness_set_option(h, "log-every", "-1") == OMB_EINVAL);
    CHECK(harness_set_option(h, "log-evry", "1") == OMB_ENOTFOUND);
    harness_destroy(&h);

    json_decref(ev);
    return test_result();
}
