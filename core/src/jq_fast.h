/* Native fast paths for the commonest programs, each answered exactly as jq answers it, and
 * each leaving to jq anything it does not recognise — another shape of program, or an input on
 * which jq's result could differ in any way (an error, another type's rules):
 * - filters `.a.b OP literal` (OP one of == != < <= > >=, the literal a JSON number, string,
 *   true, false or null), compared with the same jv_equal and jv_cmp that jq's operators call;
 * - transforms that build one object from paths, literals, `path OP number` (OP + - *) and
 *   `([...] | max)` / `([...] | min)` (the exact subset is described in jq_fast.c).
 * Neither is taken when $HOME/.jq exists as a file: jq 1.6 imports it into every program, and
 * its definitions can replace the builtins behind operators, max and min. */
#ifndef OMNIBUS_JQ_FAST_H
#define OMNIBUS_JQ_FAST_H

#include <stdbool.h>
#include <jv.h>

struct jq_fast_filter;
struct jq_fast_transform;

/* Recognise `program` (which jq has compiled already). NULL when it is not of the fast shape
 * (or on ENOMEM): then jq runs it. */
struct jq_fast_filter *jq_fast_filter_new(const char *program);
void jq_fast_filter_free(struct jq_fast_filter *f);

enum jq_fast_result { JQ_FAST_FALSE = 0, JQ_FAST_TRUE = 1, JQ_FAST_ASK_JQ = -1 };

/* Evaluate on input (borrowed). JQ_FAST_ASK_JQ where jq's answer could differ from a plain
 * comparison (a path through something that is neither an object nor null: jq raises). */
enum jq_fast_result jq_fast_filter_run(const struct jq_fast_filter *f, jv input);

/* Recognise `program` (which jq has compiled already) as a transform of the native subset. NULL
 * when it is not (or on ENOMEM): then jq runs it. */
struct jq_fast_transform *jq_fast_transform_new(const char *program);
void jq_fast_transform_free(struct jq_fast_transform *t);

/* Evaluate on input (borrowed). True with *out (new) the one object jq would produce, the same
 * keys in the same order with the same values; false, *out untouched, where jq's result could
 * differ (jq would raise an error, or apply another type's rules): then run jq. */
bool jq_fast_transform_run(const struct jq_fast_transform *t, jv input, jv *out);

#endif /* OMNIBUS_JQ_FAST_H */
