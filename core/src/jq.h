/* jq programs (libjq 1.6) over jansson values. A compiled program belongs to one thread: a
 * jq_state is not thread-safe, so each router worker compiles its own.
 *
 * Numbers: libjq keeps every number as a double, so an integer above 2^53 loses digits inside
 * a program. Results convert back exactly for integers up to 2^53 (money in minor units,
 * quantities); carry platform ids as strings. */
#ifndef OMNIBUS_JQ_H
#define OMNIBUS_JQ_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct omb_jq;

/* Compile `program`. Returns NULL with jq's own message(s) in err when it does not compile. */
struct omb_jq *omb_jq_compile(const char *program, char *err, size_t errlen);

/* Free; NULL-safe, sets *jqp to NULL. */
void omb_jq_destroy(struct omb_jq **jqp);

/* Receives one result; steals `result`. A non-zero return stops the run and is returned. */
typedef int (*omb_jq_result_fn)(json_t *result, void *arg);

/* Run the program on `input` (borrowed). Each result goes to fn in order. Returns the number of
 * results (>= 0), or OMB_EINVAL with jq's error in err when the program raises an error (results
 * before the error were already handed to fn), or fn's non-zero return. */
int omb_jq_run(struct omb_jq *jq, const json_t *input, omb_jq_result_fn fn, void *arg, char *err,
               size_t errlen);

/* Run as a filter: *pass is true when the first result is neither false nor null (no result:
 * false). Returns 0, or OMB_EINVAL with jq's error in err. */
int omb_jq_test(struct omb_jq *jq, const json_t *input, bool *pass, char *err, size_t errlen);

/* The router's fast path: a body parsed once, straight from its text into jq's own value (no
 * jansson tree), then filtered and transformed, and each result written back as text. */
struct omb_jq_input;

/* Parse JSON text. Returns NULL with the parser's message in err when it is not JSON. */
struct omb_jq_input *omb_jq_input_parse(const char *text, size_t len, char *err, size_t errlen);
/* True when the parsed value is an object. */
bool omb_jq_input_is_object(const struct omb_jq_input *in);
/* Free; NULL-safe, sets *inp to NULL. */
void omb_jq_input_free(struct omb_jq_input **inp);

/* omb_jq_test over a parsed input (borrowed). */
int omb_jq_test_input(struct omb_jq *jq, const struct omb_jq_input *in, bool *pass, char *err,
                      size_t errlen);

/* True when the program is a plain comparison (`.a.b OP literal`) that omb_jq_test_input answers
 * natively, with jq's own comparison functions, instead of running jq. */
bool omb_jq_is_fast(const struct omb_jq *jq);

/* True when the program is a simple object construction (`{sku, on_hand: ([.on_hand - 2, 0] |
 * max)}`; the subset is in jq_fast.c) that omb_jq_run_input builds natively, with jq's own values,
 * whenever jq's result could not differ, instead of running jq. */
bool omb_jq_is_fast_transform(const struct omb_jq *jq);

/* Receives one result as compact JSON text (borrowed for the call) and whether it is an object.
 * A non-zero return stops the run and is returned. */
typedef int (*omb_jq_text_fn)(const char *text, size_t len, bool is_object, void *arg);

/* omb_jq_run over a parsed input (borrowed), results as text. Same returns as omb_jq_run. */
int omb_jq_run_input(struct omb_jq *jq, const struct omb_jq_input *in, omb_jq_text_fn fn,
                     void *arg, char *err, size_t errlen);

#endif /* OMNIBUS_JQ_H */
