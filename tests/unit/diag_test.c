/* Unit test: core/src/diag.c */
#include <stdlib.h>

#include "diag.h"
#include "testlib.h"

int main(void)
{
    struct omb_diags d;
    omb_diags_init(&d);
    for (int i = 0; i < 20; i++) {
        omb_diags_error(&d, "a.xml", i + 1, "error %d", i);
    }
    omb_diags_warning(&d, "a.xml", 30, "careful");
    CHECK(d.n == 21);
    CHECK(d.errors == 20);
    CHECK_STR(d.v[3].msg, "error 3");
    CHECK(d.v[20].severity == OMB_DIAG_WARNING);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    omb_diags_print(&d, f);
    fclose(f);
    CHECK(strstr(buf, "a.xml:1: error 0\n") == buf);
    CHECK(strstr(buf, "a.xml:30: warning: careful\n") != NULL);
    free(buf);

    omb_diags_clear(&d);
    CHECK(d.n == 0 && d.errors == 0);
    omb_diags_clear(&d);
    return test_result();
}
