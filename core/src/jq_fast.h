/* A native fast path for the commonest filters: `.a.b OP literal` (OP one of == != < <= > >=,
 * the literal a JSON number, string, true, false or null). The result is jq's own: the same
 * jv_equal and jv_cmp that jq's operators call. Anything else — another shape of program, or an
 * input on which jq would raise an error — is left to jq. */
#ifndef OMNIBUS_JQ_FAST_H
#define OMNIBUS_JQ_FAST_H

#include <stdbool.h>
#include <jv.h>

struct jq_fast_filter;

/* Recognise `program` (which jq has compiled already). NULL when it is not of the fast shape
 * (or on ENOMEM): then jq runs it. */
struct jq_fast_filter *jq_fast_filter_new(const char *program);
void jq_fast_filter_free(struct jq_fast_filter *f);

enum jq_fast_result { JQ_FAST_FALSE = 0, JQ_FAST_TRUE = 1, JQ_FAST_ASK_JQ = -1 };

/* Evaluate on input (borrowed). JQ_FAST_ASK_JQ where jq's answer could differ from a plain
 * comparison (a path through something that is neither an object nor null: jq raises). */
enum jq_fast_result jq_fast_filter_run(const struct jq_fast_filter *f, jv input);

#endif /* OMNIBUS_JQ_FAST_H */
