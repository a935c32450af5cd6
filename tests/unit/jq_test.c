/* Unit test: core/src/jq.c (libjq 1.6 over jansson). */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "omnibus/err.h"

#include "jq.h"
#include "jq_fast.h"
#include "testlib.h"

/* Collects results into a jansson array. */
static int collect(json_t *result, void *arg)
{
    json_t *arr = arg;
    return json_array_append_new(arr, result) == 0 ? 0 : OMB_ENOMEM;
}

/* Stops after the first result with a positive code. */
static int stop_first(json_t *result, void *arg)
{
    json_decref(result);
    return 42;
}

/* Parse text; compile prog; run; return the results array (new) or NULL on a run error. */
static json_t *run_text(const char *prog, const char *input, int *rc, char *err, size_t errlen)
{
    json_t *in = json_loads(input, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    json_t *out = json_array();
    struct omb_jq *jq = omb_jq_compile(prog, err, errlen);
    CHECK(in != NULL);
    CHECK(jq != NULL);
    *rc = OMB_EINVAL;
    if (in && jq) {
        *rc = omb_jq_run(jq, in, collect, out, err, errlen);
    }
    omb_jq_destroy(&jq);
    json_decref(in);
    if (*rc < 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* The compact dump of the only result (a new string), or NULL. */
static char *run1(const char *prog, const char *input)
{
    char err[256];
    int rc;
    json_t *out = run_text(prog, input, &rc, err, sizeof(err));
    char *s = NULL;
    CHECK(rc == 1);
    if (out && json_array_size(out) == 1) {
        s = json_dumps(json_array_get(out, 0), JSON_COMPACT | JSON_ENCODE_ANY);
    }
    json_decref(out);
    return s;
}

static void test_compile_error(void)
{
    char err[512];
    struct omb_jq *jq = omb_jq_compile(".a | | b", err, sizeof(err));
    CHECK(jq == NULL);
    CHECK(strstr(err, "syntax error") != NULL);
    CHECK(strstr(err, "compile error") != NULL);

    jq = omb_jq_compile("nosuchfn(1)", err, sizeof(err));
    CHECK(jq == NULL);
    CHECK(strstr(err, "nosuchfn/1 is not defined") != NULL);

    /* A tiny buffer truncates but stays terminated. */
    char small[8];
    jq = omb_jq_compile("{", small, sizeof(small));
    CHECK(jq == NULL);
    CHECK(strlen(small) == 7);

    /* No buffer at all. */
    jq = omb_jq_compile("{", NULL, 0);
    CHECK(jq == NULL);

    jq = omb_jq_compile(".", err, sizeof(err));
    CHECK(jq != NULL);
    CHECK_STR(err, "");
    omb_jq_destroy(&jq);
    CHECK(jq == NULL);
    omb_jq_destroy(&jq);
    omb_jq_destroy(NULL);
}

static void test_filter(void)
{
    char err[256];
    struct omb_jq *jq = omb_jq_compile(".location | startswith(\"store-\")", err, sizeof(err));
    json_t *in =
        json_pack("{s:s, s:s, s:i}", "sku", "OB-1000-S", "location", "store-WAW01", "on_hand", 18);
    bool pass = false;
    CHECK(omb_jq_test(jq, in, &pass, err, sizeof(err)) == 0);
    CHECK(pass);
    json_object_set_new(in, "location", json_string("WH1"));
    CHECK(omb_jq_test(jq, in, &pass, err, sizeof(err)) == 0);
    CHECK(!pass);
    omb_jq_destroy(&jq);

    /* null and no result are false; anything else (0, "", []) is true, as in jq. */
    const struct {
        const char *prog;
        bool pass;
    } cases[] = {
        {"null", false},     {"false", false},      {"empty", false},
        {".missing", false}, {"0", true},           {"\"\"", true},
        {"[]", true},        {"true, false", true}, {"false, true", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        jq = omb_jq_compile(cases[i].prog, err, sizeof(err));
        pass = !cases[i].pass;
        CHECK(omb_jq_test(jq, in, &pass, err, sizeof(err)) == 0);
        if (pass != cases[i].pass) {
            fprintf(stderr, "filter %s: expected %d\n", cases[i].prog, cases[i].pass);
        }
        CHECK(pass == cases[i].pass);
        omb_jq_destroy(&jq);
    }

    /* An error in a filter is an error, and pass is false. */
    jq = omb_jq_compile(".sku | error(\"bad: \" + .)", err, sizeof(err));
    pass = true;
    CHECK(omb_jq_test(jq, in, &pass, err, sizeof(err)) == OMB_EINVAL);
    CHECK(!pass);
    CHECK_STR(err, "bad: OB-1000-S");
    omb_jq_destroy(&jq);
    json_decref(in);
}

static void test_transform(void)
{
    /* The DESIGN.md route transform, key order kept. */
    char *s = run1("{sku, location: \"web\", on_hand: ([.on_hand - 2, 0] | max)}",
                   "{\"on_hand\": 1, \"location\": \"WAW01\", \"sku\": \"OB-1000-S\"}");
    CHECK_STR(s, "{\"sku\":\"OB-1000-S\",\"location\":\"web\",\"on_hand\":0}");
    free(s);

    s = run1("{z: 1, a: 2, m: 3} + {b: 4}", "null");
    CHECK_STR(s, "{\"z\":1,\"a\":2,\"m\":3,\"b\":4}");
    free(s);

    /* Input key order survives identity. */
    s = run1(".", "{\"zeta\": 1, \"alpha\": {\"y\": true, \"x\": false}, \"mid\": null}");
    CHECK_STR(s, "{\"zeta\":1,\"alpha\":{\"y\":true,\"x\":false},\"mid\":null}");
    free(s);

    s = run1(".a.b.c += 1", "{\"a\": {\"b\": {\"c\": 41}}}");
    CHECK_STR(s, "{\"a\":{\"b\":{\"c\":42}}}");
    free(s);
}

static void test_several_results(void)
{
    char err[256];
    int rc;
    json_t *out = run_text(".lines[] | {sku, qty}",
                           "{\"lines\": [{\"sku\": \"OB-1000-S\", \"qty\": 2},"
                           " {\"sku\": \"OB-1001-M\", \"qty\": 1},"
                           " {\"sku\": \"OB-1002-L\", \"qty\": 3}]}",
                           &rc, err, sizeof(err));
    CHECK(rc == 3);
    CHECK(json_array_size(out) == 3);
    CHECK_STR(json_string_value(json_object_get(json_array_get(out, 0), "sku")), "OB-1000-S");
    CHECK_STR(json_string_value(json_object_get(json_array_get(out, 1), "sku")), "OB-1001-M");
    CHECK_STR(json_string_value(json_object_get(json_array_get(out, 2), "sku")), "OB-1002-L");
    CHECK(json_integer_value(json_object_get(json_array_get(out, 2), "qty")) == 3);
    json_decref(out);

    out = run_text("empty", "{}", &rc, err, sizeof(err));
    CHECK(rc == 0);
    CHECK(json_array_size(out) == 0);
    json_decref(out);

    /* The callback stops the run with its own return. */
    struct omb_jq *jq = omb_jq_compile("range(10)", err, sizeof(err));
    json_t *in = json_null();
    CHECK(omb_jq_run(jq, in, stop_first, NULL, err, sizeof(err)) == 42);
    /* The same program runs again afterwards, from the start. */
    json_t *arr = json_array();
    CHECK(omb_jq_run(jq, in, collect, arr, err, sizeof(err)) == 10);
    CHECK(json_integer_value(json_array_get(arr, 9)) == 9);
    CHECK(omb_jq_run(NULL, in, collect, arr, err, sizeof(err)) == OMB_EINVAL);
    CHECK(omb_jq_run(jq, NULL, collect, arr, err, sizeof(err)) == OMB_EINVAL);
    CHECK(omb_jq_run(jq, in, NULL, arr, err, sizeof(err)) == OMB_EINVAL);
    json_decref(arr);
    omb_jq_destroy(&jq);
    json_decref(in);
}

static void test_runtime_error(void)
{
    char err[256];
    int rc;
    json_t *out = run_text(".a.b", "{\"a\": \"a string\"}", &rc, err, sizeof(err));
    CHECK(rc == OMB_EINVAL);
    CHECK(out == NULL);
    CHECK_STR(err, "Cannot index string with string \"b\"");

    out = run_text("error(\"x\")", "{}", &rc, err, sizeof(err));
    CHECK(rc == OMB_EINVAL);
    CHECK_STR(err, "x");

    /* A non-string error value is reported as JSON. */
    out = run_text("error({code: 7})", "{}", &rc, err, sizeof(err));
    CHECK(rc == OMB_EINVAL);
    CHECK(strstr(err, "{\"code\":7}") != NULL);

    /* Results before the error were handed over already. */
    struct omb_jq *jq =
        omb_jq_compile(".[] | if . == 3 then error(\"three\") else . end", err, sizeof(err));
    json_t *in = json_pack("[i,i,i,i]", 1, 2, 3, 4);
    json_t *arr = json_array();
    CHECK(omb_jq_run(jq, in, collect, arr, err, sizeof(err)) == OMB_EINVAL);
    CHECK(json_array_size(arr) == 2);
    CHECK_STR(err, "three");
    /* A later run on the same program works. */
    json_array_clear(arr);
    json_array_remove(in, 2);
    CHECK(omb_jq_run(jq, in, collect, arr, err, sizeof(err)) == 3);
    CHECK_STR(err, "");
    json_decref(arr);
    json_decref(in);
    omb_jq_destroy(&jq);

    /* halt ends the results without error; halt_error is an error with its message. */
    out = run_text("1, halt, 2", "null", &rc, err, sizeof(err));
    CHECK(rc == 1);
    json_decref(out);
    out = run_text("\"stock feed broken\\n\" | halt_error", "null", &rc, err, sizeof(err));
    CHECK(rc == OMB_EINVAL);
    CHECK_STR(err, "halt_error (exit 5): stock feed broken");
    out = run_text("{a: 1} | halt_error(2)", "null", &rc, err, sizeof(err));
    CHECK(rc == OMB_EINVAL);
    CHECK(strstr(err, "exit 2") != NULL && strstr(err, "{\"a\":1}") != NULL);
    out = run_text("\"x\" | halt_error(1e300)", "null", &rc, err, sizeof(err));
    CHECK(rc == OMB_EINVAL);
    CHECK_STR(err, "halt_error (exit -1): x");
    out = run_text("\"x\" | halt_error(0)", "null", &rc, err, sizeof(err));
    CHECK(rc == 0);
    json_decref(out);
    /* After a halt, the same state runs normally again. */
    jq = omb_jq_compile("if . == 0 then halt_error else . + 1 end", err, sizeof(err));
    in = json_integer(0);
    arr = json_array();
    CHECK(omb_jq_run(jq, in, collect, arr, err, sizeof(err)) == OMB_EINVAL);
    json_integer_set(in, 1);
    CHECK(omb_jq_run(jq, in, collect, arr, err, sizeof(err)) == 1);
    CHECK(json_integer_value(json_array_get(arr, 0)) == 2);
    json_decref(arr);
    json_decref(in);
    omb_jq_destroy(&jq);
}

static void test_unicode(void)
{
    char *s = run1("{name: (.name + \" – wyprzedaż\"), n: (.name | length)}",
                   "{\"name\": \"Koszulka bawełniana S\"}");
    CHECK_STR(s, "{\"name\":\"Koszulka bawełniana S – wyprzedaż\",\"n\":21}");
    free(s);

    s = run1("[.city | explode[0], (. | ascii_downcase)]", "{\"city\": \"Łódź 😀\"}");
    CHECK_STR(s, "[321,\"Łódź 😀\"]");
    free(s);

    /* Keys with non-ASCII text, and a string with an embedded NUL byte both ways. */
    s = run1("{\"zażółć\": .}", "\"a\\u0000b\"");
    CHECK_STR(s, "{\"zażółć\":\"a\\u0000b\"}");
    free(s);
}

static void test_nested(void)
{
    const char *order = "{\"order_id\": \"1042\", \"customer\": {\"email\": \"a@example.pl\","
                        " \"tags\": [\"vip\", []], \"address\": {\"city\": \"Gdańsk\"}},"
                        " \"lines\": [[1, [2, [3, {\"deep\": [true, false, null]}]]]],"
                        " \"total\": {\"amount\": 29998, \"currency\": \"PLN\"},"
                        " \"rate\": 0.23, \"neg\": -5, \"empty\": {}}";
    char *s = run1(".", order);
    json_t *in = json_loads(order, 0, NULL);
    char *expect = json_dumps(in, JSON_COMPACT);
    CHECK_STR(s, expect);
    free(expect);
    free(s);
    json_decref(in);

    s = run1("[.customer.address.city, .lines[0][1][1][1].deep[2], .customer.tags[1]]", order);
    CHECK_STR(s, "[\"Gdańsk\",null,[]]");
    free(s);
}

static void test_money_and_quantities(void)
{
    char err[256];
    int rc;
    json_t *out = run_text(
        "{price: .price, total: {amount: (.price.amount * .qty), currency: .price.currency},"
        " qty: .qty, half: (.qty / 2), zero: (.qty - .qty), neg: (0 - .qty)}",
        "{\"price\": {\"amount\": 12999, \"currency\": \"PLN\"}, \"qty\": 3}", &rc, err,
        sizeof(err));
    CHECK(rc == 1);
    json_t *r = json_array_get(out, 0);
    json_t *amount = json_object_get(json_object_get(r, "price"), "amount");
    CHECK(json_is_integer(amount) && json_integer_value(amount) == 12999);
    CHECK_STR(json_string_value(json_object_get(json_object_get(r, "price"), "currency")), "PLN");
    json_t *total = json_object_get(json_object_get(r, "total"), "amount");
    CHECK(json_is_integer(total) && json_integer_value(total) == 38997);
    CHECK(json_is_integer(json_object_get(r, "qty")));
    CHECK(json_integer_value(json_object_get(r, "qty")) == 3);
    /* A non-integral result stays a real, so an accidental float is visible, not truncated. */
    CHECK(json_is_real(json_object_get(r, "half")));
    CHECK(json_real_value(json_object_get(r, "half")) == 1.5);
    CHECK(json_is_integer(json_object_get(r, "zero")));
    CHECK(json_integer_value(json_object_get(r, "neg")) == -3);
    json_decref(out);

    /* The largest exact integers cross intact; a real with an integral value becomes an integer. */
    char *s = run1("[., -., 2.0, 1e3]", "9007199254740992");
    CHECK_STR(s, "[9007199254740992,-9007199254740992,2,1000]");
    free(s);

    /* Non-finite numbers come out as jq 1.6 prints them. */
    s = run1("[nan, infinite > 1e308]", "null");
    CHECK_STR(s, "[null,true]");
    free(s);
}

static void test_platform_ids(void)
{
    /* A 64-bit platform id carried as a string (as docs/events.md requires) is bit-exact. */
    char *s = run1("{customer: {shopify: .customer.id}, ids: [.ids[] | tostring]}",
                   "{\"customer\": {\"id\": \"9007199254740993123\"},"
                   " \"ids\": [\"9007199254740993123\", \"18446744073709551615\"]}");
    CHECK_STR(s, "{\"customer\":{\"shopify\":\"9007199254740993123\"},"
                 "\"ids\":[\"9007199254740993123\",\"18446744073709551615\"]}");
    free(s);

    /* The limitation, pinned: the same id as a JSON number goes through libjq 1.6 as a double and
     * comes back rounded to the nearest double, 9007199254740993024 (above 2^53, so a real). If
     * this starts failing, libjq keeps big integers now (jq 1.7 does): update docs/events.md. */
    char err[256];
    int rc;
    json_t *in = json_pack("{s:I}", "id", (json_int_t)9007199254740993123LL);
    CHECK(json_integer_value(json_object_get(in, "id")) == 9007199254740993123LL);
    struct omb_jq *jq = omb_jq_compile(".id", err, sizeof(err));
    json_t *out = json_array();
    rc = omb_jq_run(jq, in, collect, out, err, sizeof(err));
    CHECK(rc == 1);
    json_t *id = json_array_get(out, 0);
    CHECK(json_is_real(id));
    CHECK(json_real_value(id) == 9007199254740993024.0);
    CHECK((json_int_t)json_real_value(id) != 9007199254740993123LL);
    json_decref(out);
    omb_jq_destroy(&jq);
    json_decref(in);

    /* Even a route that does not touch the id loses it, silently: 2^53 + 1 becomes 2^53, which
     * is within the exact range and so comes back as a (wrong) integer. */
    s = run1(".", "{\"id\": 9007199254740993}");
    CHECK_STR(s, "{\"id\":9007199254740992}");
    free(s);
}

struct texts {
    char buf[4096];
    int n, objects;
};

static int collect_text(const char *text, size_t len, bool is_object, void *arg)
{
    struct texts *t = arg;
    size_t used = strlen(t->buf);
    snprintf(t->buf + used, sizeof(t->buf) - used, "%s%.*s", t->n ? "|" : "", (int)len, text);
    t->n++;
    t->objects += is_object;
    return 0;
}

/* The router's path: text in, text out, one parse for several programs. */
static void test_text_path(void)
{
    char err[512];
    const char *body = "{\"sku\":\"OB-1\",\"id\":\"9007199254740993123\",\"name\":\"Zażółć\","
                       "\"price\":{\"amount\":12999,\"currency\":\"PLN\"},\"lines\":[1,2]}";
    struct omb_jq_input *in = omb_jq_input_parse(body, strlen(body), err, sizeof(err));
    CHECK(in != NULL && omb_jq_input_is_object(in));
    struct omb_jq *filter = omb_jq_compile(".price.amount > 100", err, sizeof(err));
    struct omb_jq *transform = omb_jq_compile("{sku, id, name, price}", err, sizeof(err));
    struct omb_jq *split = omb_jq_compile(".lines[] | {n: .}", err, sizeof(err));
    struct omb_jq *fails = omb_jq_compile("error(\"no\")", err, sizeof(err));
    bool pass = false;
    CHECK(omb_jq_test_input(filter, in, &pass, err, sizeof(err)) == 0 && pass);
    struct texts t = { .n = 0 };
    CHECK(omb_jq_run_input(transform, in, collect_text, &t, err, sizeof(err)) == 1);
    CHECK_STR(t.buf, "{\"sku\":\"OB-1\",\"id\":\"9007199254740993123\",\"name\":\"Zażółć\","
                     "\"price\":{\"amount\":12999,\"currency\":\"PLN\"}}");
    CHECK(t.objects == 1);
    struct texts t2 = { .n = 0 };
    CHECK(omb_jq_run_input(split, in, collect_text, &t2, err, sizeof(err)) == 2);
    CHECK_STR(t2.buf, "{\"n\":1}|{\"n\":2}");
    struct texts t3 = { .n = 0 };
    CHECK(omb_jq_run_input(fails, in, collect_text, &t3, err, sizeof(err)) == OMB_EINVAL);
    CHECK(strstr(err, "no") != NULL);
    /* The same input serves again after all of that. */
    CHECK(omb_jq_test_input(filter, in, &pass, err, sizeof(err)) == 0 && pass);
    omb_jq_input_free(&in);
    omb_jq_input_free(&in);
    CHECK(omb_jq_input_parse("{\"a\":", 5, err, sizeof(err)) == NULL && err[0] != '\0');
    in = omb_jq_input_parse("[1]", 3, err, sizeof(err));
    CHECK(in && !omb_jq_input_is_object(in));
    omb_jq_input_free(&in);
    omb_jq_destroy(&filter);
    omb_jq_destroy(&transform);
    omb_jq_destroy(&split);
    omb_jq_destroy(&fails);
}

/* The native comparison path answers exactly as jq does: every program against every input,
 * once through the fast path and once through jq (the parenthesised program is not taken by the
 * fast path). */
static void test_fast_filters(void)
{
    static const char *const fast[] = {
        ".on_hand >= 0", ".on_hand > 0", ".on_hand < 10", ".on_hand <= 10", ".on_hand == 5",
        ".on_hand != 5", ".a.b == \"x\"", ".a.b != null", ".price.amount > 100",
        ".flag == true", ".flag == false", ".s < \"m\"", ".missing == null", ".n == 1.0",
        ".n >= -1", ".n > 1e3", ".s == \"Zażółć\"", "  .on_hand>=0  ", ".a.b.c > 0", NULL
    };
    static const char *const slow[] = {
        ".on_hand > 0 and .a", ".a | length > 0", "(.on_hand > 0)", ".a > .b", ".a[0] > 1",
        ".a > [1]", ".on_hand", "true", ".a > 0 | not", NULL
    };
    static const char *const inputs[] = {
        "{\"on_hand\":5}", "{\"on_hand\":-1}", "{\"on_hand\":\"5\"}", "{\"on_hand\":null}", "{}",
        "{\"a\":{\"b\":\"x\"}}", "{\"a\":{\"b\":1}}", "{\"a\":null}", "{\"a\":\"str\"}",
        "{\"a\":[1]}", "{\"price\":{\"amount\":12999}}", "{\"flag\":true}", "{\"flag\":false}",
        "{\"s\":\"a\"}", "{\"s\":\"z\"}", "{\"n\":1}", "{\"n\":1000.5}", "{\"s\":\"Zażółć\"}",
        "{\"on_hand\":[1]}", "{\"on_hand\":{\"x\":1}}", "{\"a\":{\"b\":{\"c\":3}}}",
        "{\"a\":{\"b\":\"s\"}}", NULL
    };
    char err[512], err2[512], wrapped[128];
    int compared = 0, mismatches = 0;
    for (size_t p = 0; fast[p]; p++) {
        struct omb_jq *f = omb_jq_compile(fast[p], err, sizeof(err));
        snprintf(wrapped, sizeof(wrapped), "(%s)", fast[p]);
        struct omb_jq *j = omb_jq_compile(wrapped, err, sizeof(err));
        CHECK(f && j);
        CHECK(omb_jq_is_fast(f));
        CHECK(!omb_jq_is_fast(j));
        for (size_t i = 0; f && j && inputs[i]; i++) {
            struct omb_jq_input *in = omb_jq_input_parse(inputs[i], strlen(inputs[i]), err,
                                                         sizeof(err));
            bool pf = false, pj = false;
            int rf = omb_jq_test_input(f, in, &pf, err, sizeof(err));
            int rj = omb_jq_test_input(j, in, &pj, err2, sizeof(err2));
            compared++;
            if (rf != rj || pf != pj || (rf != 0 && strcmp(err, err2) != 0)) {
                mismatches++;
                fprintf(stderr, "fast path differs: %s on %s: %d/%d vs jq %d/%d (%s | %s)\n",
                        fast[p], inputs[i], rf, pf, rj, pj, err, err2);
            }
            omb_jq_input_free(&in);
        }
        omb_jq_destroy(&f);
        omb_jq_destroy(&j);
    }
    CHECK(compared == 19 * 22);
    CHECK(mismatches == 0);
    for (size_t p = 0; slow[p]; p++) {
        struct omb_jq *j = omb_jq_compile(slow[p], err, sizeof(err));
        CHECK(j != NULL);
        if (omb_jq_is_fast(j)) {
            fprintf(stderr, "taken by the fast path, wrongly: %s\n", slow[p]);
        }
        CHECK(!omb_jq_is_fast(j));
        omb_jq_destroy(&j);
    }
}

static int stop_text(const char *text, size_t len, bool is_object, void *arg)
{
    return 7;
}

/* The native transform path builds exactly jq's result: every program against every input, once
 * through the fast path and once through jq (the parenthesised program is not taken), with the
 * same return, the same number of results and byte-identical text (or the same error). */
static void test_fast_transforms(void)
{
    static const char *const fast[] = {
        "{sku, location, on_hand: ([.on_hand - 2, 0] | max), as_of, source, seq, t}",
        "{a}",
        "{x: .a.b.c, y: .a.b, z: .a, w: .c.d}",
        "{\"a b\": .a, \"zażółć\": \"Łódź 😀\", n: null, t: true, f: false, s: \"\"}",
        "{a: 1, b: -2.5, c: 1e300, d: -0, e: 0.1, f: 1E-7, g: 100000000000000000000,"
        " h: 1e1000, i: -1e-400, j: 9007199254740993, k: 0.30000000000000004}",
        "{p: (.a + 1), m: (.a - 2.5), t: (.a * 3), u: (.b * -1), v: (.a + -1), w: (.a-0.1)}",
        "{lo: ([.a, .b] | min), hi: ([.a, .b] | max)}",
        "{z: ([.a * 0, 0] | max), y: ([0, .a * 0] | max), w: ([.a * 0, 0] | min),"
        " v: ([0, .a * 0] | min)}",
        "{z: ([.a, -0] | max), y: ([-0, .a] | max), w: ([.a, -0] | min), v: ([-0, .a] | min)}",
        "{id: ., n: .a}",
        "{if: .if, true, null: .null, \"and\": 1}",
        "{a: ((.a)), b: (((.b * -1))), c: (-1), d: (\"x\")}",
        "{\n  a ,\n\tb:.b ,c : ( [ .a - 1 , .b + 1 , 7 , -3 , .c.d ] | max )\n}",
        "{m: ([([.a, .b] | max), 3] | min), n: ([([.a, .b] | min), ([.b, .a] | max)] | max)}",
        "{big: (.a * 1e300), tiny: (.a * 1e-300), huge: (.a + 9007199254740993),"
        " inf: (.a * 1e1000)}",
        "{s: .s, u: .u, k: \"k\", a}",
        "{x: ([.a, .a] | max), y: ([.b, 1, .b] | min), z: ([.a] | max)}",
        "{d: (. * 2), e: (. - 1)}",
        "{a: .a.b, b: .b}",
        "{on_hand: ([.on_hand - 2, 0] | max), sku}",
        "{a: ([.a, .b] | max), b: ([.a, .b] | min), c: ([.b, .a] | max), d: ([.b, .a] | min)}",
        /* Invalid UTF-8 in the program's strings is replaced as jq replaces it. */
        "{\"k\xff\": \"a\xc3\x28" "b\xf0\x9f\x98\", x: \"\x7f\", a}",
        NULL
    };
    static const char *const slow[] = {
        "{a: .b | length}", "{a: .b[0]}", ".a", "{a} | .a", "{(.k): 1}",
        "{a: (.b + .c)}", /* `{a: .b + .c}` does not compile in jq 1.6 */
        "{a: \"x\\(.b)\"}", "{a, a}", "{a: 1, \"a\": 2}", "({a})", "{}", "{a,}", "{\"a\"}",
        "{a: (.a / 2)}", "{a: (.a % 2)}", "{a: ([.a] | add)}", "{a: .b?}", "{a: .[\"b\"]}",
        "{a: (.b // 1)}", "{a: \"x\\ty\"}", "{a: (.a -= 1)}", "{a: 0123}", "{a: 1.}",
        "{a: .5}", "{a: ..}", "{a: $__loc__}", "{a: .b} # c", "{a: ([.a, 1] | max_by(.))}",
        "{a: ([] | max)}", "{a: -.a}", "{a: (.a | max)}", "{a: .b .c}", "{a: .\"b\"}",
        "{a: @base64 \"x\"}", "{a: ([.a, 1] | max | .)}", "{\"a\\u0041\": 1}", "{a: .a | .}",
        "{a: .a, b: [.a]}", "{a: {b: .a}}", "{a: (.a * 2 + 1)}", "{a: ((.a - 1) * 2)}",
        "{a: (1 + .a)}", "{a: .a.b.c.d.e.f.g.h.i}", "{a: ([.a, 1] | max), }",
        "{\"\xef\xbf\xbd\": 1, \"\xff\": 2}", /* the same key once both are replaced */
        NULL
    };
    static const char *const inputs[] = {
        "{\"sku\":\"OB-0042-M\",\"location\":\"WAW01\",\"on_hand\":18,"
        "\"as_of\":\"2026-11-20T10:00:00Z\",\"source\":{\"platform\":\"shopify\","
        "\"shop\":\"acme-eu.myshopify.com\",\"inventory_item_id\":\"8089508100042\","
        "\"location_id\":\"905684977\"},\"seq\":7,\"t\":1795170000123456}",
        "{\"sku\":\"S\",\"on_hand\":1,\"seq\":1}", "{\"sku\":\"S\",\"on_hand\":2}",
        "{\"t\":1,\"seq\":2,\"source\":{\"x\":1},\"as_of\":\"x\",\"on_hand\":-5,"
        "\"location\":\"L\",\"sku\":\"S\"}",
        "{\"a\":3,\"b\":-2,\"c\":{\"d\":7}}", "{\"a\":-3.25,\"b\":0.5}", "{\"a\":0,\"b\":-0}",
        "{\"a\":-0.0,\"b\":0}", "{\"a\":1e300,\"b\":-1e300}",
        "{\"a\":9007199254740993,\"b\":9007199254740992}", "{\"a\":1e1000,\"b\":-1e1000}",
        "{\"a\":\"5\",\"b\":\"x\",\"on_hand\":\"7\"}", "{\"a\":null,\"b\":null,\"on_hand\":null}",
        "{}", "{\"a\":{\"b\":{\"c\":1}}}", "{\"a\":[1,2],\"b\":[3],\"on_hand\":[1]}",
        "{\"a\":{\"b\":[1]},\"c\":[{\"d\":1}]}",
        "{\"s\":\"Zażółć 😀\",\"u\":\"q\\\"b\\\\s\\u0000n\\nt\\t\\u001f\",\"a\":true}",
        "{\"a\":false,\"b\":true,\"on_hand\":{\"x\":1}}", "{\"a\":nan,\"b\":1}",
        "{\"a\":1,\"b\":nan}", "{\"a\":0.1,\"b\":0.2,\"c\":{\"d\":-1e-320}}",
        "{\"if\":1,\"true\":2,\"null\":3,\"a b\":4,\"and\":5}", "{\"a\":1,\"a\":2,\"b\":2,\"b\":1}",
        "null", "5", "-0", "\"str\"", "[1,2]", "true", NULL
    };
    char err[512], err2[512], wrapped[512];
    size_t n_fast = 0, n_inputs = 0;
    int compared = 0, mismatches = 0, native = 0;
    while (fast[n_fast]) {
        n_fast++;
    }
    while (inputs[n_inputs]) {
        n_inputs++;
    }
    for (size_t p = 0; fast[p]; p++) {
        struct omb_jq *f = omb_jq_compile(fast[p], err, sizeof(err));
        snprintf(wrapped, sizeof(wrapped), "(%s)", fast[p]);
        struct omb_jq *j = omb_jq_compile(wrapped, err, sizeof(err));
        struct jq_fast_transform *t = jq_fast_transform_new(fast[p]);
        CHECK(f && j && t);
        CHECK(omb_jq_is_fast_transform(f));
        CHECK(!omb_jq_is_fast_transform(j));
        if (!omb_jq_is_fast_transform(f)) {
            fprintf(stderr, "not taken by the fast path: %s\n", fast[p]);
        }
        for (size_t i = 0; f && j && t && inputs[i]; i++) {
            struct omb_jq_input *in = omb_jq_input_parse(inputs[i], strlen(inputs[i]), err,
                                                         sizeof(err));
            CHECK(in != NULL);
            if (!in) {
                fprintf(stderr, "input does not parse: %s\n", inputs[i]);
                continue;
            }
            struct texts tf = { .n = 0 }, tj = { .n = 0 };
            int rf = omb_jq_run_input(f, in, collect_text, &tf, err, sizeof(err));
            int rj = omb_jq_run_input(j, in, collect_text, &tj, err2, sizeof(err2));
            compared++;
            if (rf != rj || tf.n != tj.n || tf.objects != tj.objects ||
                strcmp(tf.buf, tj.buf) != 0 || strcmp(err, err2) != 0) {
                mismatches++;
                fprintf(stderr, "fast transform differs: %s on %s:\n  %d %s (%s)\n",
                        fast[p], inputs[i], rf, tf.buf, err);
                fprintf(stderr, "  jq %d %s (%s)\n", rj, tj.buf, err2);
            }
            /* How many pairs the native path answered (the others asked jq). */
            jv v = jv_parse(inputs[i]);
            jv out;
            if (jq_fast_transform_run(t, v, &out)) {
                native++;
                CHECK(rj == 1 && tj.objects == 1);
                jv_free(out);
            }
            jv_free(v);
            omb_jq_input_free(&in);
        }
        jq_fast_transform_free(t);
        omb_jq_destroy(&f);
        omb_jq_destroy(&j);
    }
    CHECK(n_fast >= 15 && n_inputs >= 20);
    CHECK(compared == (int)(n_fast * n_inputs));
    CHECK(mismatches == 0);
    CHECK(native > compared / 3 && native < compared);
    printf("fast transforms: %d program x input pairs, %d answered natively\n", compared, native);

    for (size_t p = 0; slow[p]; p++) {
        struct omb_jq *j = omb_jq_compile(slow[p], err, sizeof(err));
        CHECK(j != NULL);
        if (j == NULL) {
            fprintf(stderr, "does not compile: %s (%s)\n", slow[p], err);
        }
        if (omb_jq_is_fast_transform(j)) {
            fprintf(stderr, "taken by the fast transform, wrongly: %s\n", slow[p]);
        }
        CHECK(!omb_jq_is_fast_transform(j));
        omb_jq_destroy(&j);
    }

    /* A callback's non-zero return stops the native path as it stops jq's. */
    struct omb_jq *f = omb_jq_compile("{a}", err, sizeof(err));
    struct omb_jq_input *in = omb_jq_input_parse("{\"a\":1}", 7, err, sizeof(err));
    CHECK(omb_jq_is_fast_transform(f) && !omb_jq_is_fast(f));
    CHECK(omb_jq_run_input(f, in, stop_text, NULL, err, sizeof(err)) == 7);
    CHECK(omb_jq_run_input(f, in, NULL, NULL, err, sizeof(err)) == OMB_EINVAL);
    omb_jq_input_free(&in);
    omb_jq_destroy(&f);
}

/* jq 1.6 imports $HOME/.jq into every program, and it can redefine max or the operators: then
 * neither fast path is taken. */
static void test_fast_home_library(void)
{
    char dir[] = "/tmp/omb-jq-test-XXXXXX";
    char lib[64], err[512];
    const char *old = getenv("HOME");
    char *saved = old ? strdup(old) : NULL;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(lib, sizeof(lib), "%s/.jq", dir);
    FILE *fp = fopen(lib, "w");
    CHECK(fp != NULL);
    if (fp) {
        fputs("def max: 42; def _equal(a; b): true;\n", fp);
        fclose(fp);
    }
    setenv("HOME", dir, 1);
    struct omb_jq *t = omb_jq_compile("{on_hand: ([.on_hand - 2, 0] | max)}", err, sizeof(err));
    struct omb_jq *f = omb_jq_compile(".on_hand == 5", err, sizeof(err));
    CHECK(t && f && !omb_jq_is_fast_transform(t) && !omb_jq_is_fast(f));
    struct omb_jq_input *in = omb_jq_input_parse("{\"on_hand\":1}", 13, err, sizeof(err));
    struct texts tt = { .n = 0 };
    bool pass = false;
    CHECK(omb_jq_run_input(t, in, collect_text, &tt, err, sizeof(err)) == 1);
    CHECK_STR(tt.buf, "{\"on_hand\":42}");
    CHECK(omb_jq_test_input(f, in, &pass, err, sizeof(err)) == 0 && pass);
    omb_jq_input_free(&in);
    omb_jq_destroy(&t);
    omb_jq_destroy(&f);
    /* A directory named .jq is not imported. */
    unlink(lib);
    CHECK(mkdir(lib, 0700) == 0);
    t = omb_jq_compile("{a}", err, sizeof(err));
    CHECK(omb_jq_is_fast_transform(t));
    omb_jq_destroy(&t);
    rmdir(lib);
    rmdir(dir);
    if (saved) {
        setenv("HOME", saved, 1);
    } else {
        unsetenv("HOME");
    }
    free(saved);
}

/* The router writes jq's results itself (jq_write.c): the text must read back to the same value,
 * and look as jq writes it where that is settled. */
static void test_writer(void)
{
    static const char *const same[] = {
        "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
        "{\"n\":0.1,\"m\":12999,\"k\":-42,\"x\":1e+300,\"y\":1e-07,\"z\":12999.5}",
        "{\"s\":\"Zażółć gęślą jaźń\",\"q\":\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u007f\"}",
        "{\"empty\":{},\"list\":[],\"nested\":[[1,[2,[3]]]]}",
        "{\"big\":9007199254740992,\"neg0\":-0,\"pi\":3.141592653589793}",
        NULL
    };
    char err[256];
    struct omb_jq *id = omb_jq_compile(".", err, sizeof(err));
    for (size_t i = 0; same[i]; i++) {
        struct omb_jq_input *in = omb_jq_input_parse(same[i], strlen(same[i]), err, sizeof(err));
        struct texts t = { .n = 0 };
        CHECK(in && omb_jq_run_input(id, in, collect_text, &t, err, sizeof(err)) == 1);
        if (strcmp(t.buf, same[i]) != 0) {
            fprintf(stderr, "writer: %s\n   gave %s\n", same[i], t.buf);
        }
        CHECK_STR(t.buf, same[i]);
        omb_jq_input_free(&in);
    }
    /* NaN is null and infinities the largest double, as jq writes them. */
    struct omb_jq *odd = omb_jq_compile("{a: nan, b: infinite, c: -infinite}", err, sizeof(err));
    struct omb_jq_input *in = omb_jq_input_parse("{}", 2, err, sizeof(err));
    struct texts t = { .n = 0 };
    CHECK(omb_jq_run_input(odd, in, collect_text, &t, err, sizeof(err)) == 1);
    CHECK_STR(t.buf, "{\"a\":null,\"b\":1.7976931348623157e+308,\"c\":-1.7976931348623157e+308}");
    omb_jq_input_free(&in);
    omb_jq_destroy(&odd);
    omb_jq_destroy(&id);
}

int main(void)
{
    test_writer();
    test_fast_filters();
    test_fast_transforms();
    test_fast_home_library();
    test_text_path();
    test_compile_error();
    test_filter();
    test_transform();
    test_several_results();
    test_runtime_error();
    test_unicode();
    test_nested();
    test_money_and_quantities();
    test_platform_ids();
    return test_result();
}
