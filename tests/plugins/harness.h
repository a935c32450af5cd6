/* A fake host for plugin tests: loads a real plugin .so, fills its context from option strings the
 * way the core does, and drives its callbacks by hand. Emitted events are collected, timers are
 * recorded and fired when the test says so, the clock and the stopping flag are the test's.
 *
 *   struct harness *h = harness_new("file");  // $top_builddir/connectors/file/.libs/file.so
 *   harness_set_option(h, "dir", "/tmp/x");
 *   CHECK(harness_create(h) == 0);
 *   CHECK(harness_validate(h, err, sizeof(err)) == 0);
 *   CHECK(harness_start(h) == 0);
 *   harness_fire_timers(h);
 *   CHECK(json_array_size(harness_events(h)) == 3);
 *   harness_destroy(&h);                               // stop is the test's to call; destroy runs
 *
 * Single-threaded; one harness at a time may use the fake clock.
 */
#ifndef OMNIBUS_TESTS_HARNESS_H
#define OMNIBUS_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <omnibus/plugin.h>

struct harness;

/* Load plugin NAME: $top_builddir/connectors/NAME/.libs/NAME.so, else NAME.so in a directory of
 * $OMNIBUS_PLUGIN_PATH. NULL (with a message on stderr) when it cannot be loaded. */
struct harness *harness_new(const char *name);
/* Load the plugin at path. */
struct harness *harness_new_path(const char *path);
/* Destroy the instance if it was created (plugin destroy), free the options, unload (unless
 * OMB_NO_DLCLOSE=1). NULL-safe; sets *hp to NULL. */
void harness_destroy(struct harness **hp);

/* The plugin's descriptor and its context block (borrowed, valid until harness_destroy). */
const struct omb_plugin_descriptor *harness_descriptor(const struct harness *h);
void *harness_ctx(struct harness *h);

/* Set option `name` from its config text, as the core would (before harness_create). Returns 0,
 * OMB_ENOTFOUND for an unknown name, or OMB_EINVAL for a bad value or range (message on stderr). */
int harness_set_option(struct harness *h, const char *name, const char *value);

/* Lifecycle. harness_create fills defaults for options not set, checks REQUIRED ones and calls
 * create; the others call the plugin's callback (validate: 0 when the plugin has none). */
int harness_create(struct harness *h);
int harness_validate(struct harness *h, char *err, size_t errlen);
int harness_start(struct harness *h);
int harness_deliver(struct harness *h, const json_t *event, struct omb_deliver_result *res);
int harness_stop(struct harness *h);

/* Emitted events (borrowed array of what emit took, in order). */
json_t *harness_events(struct harness *h);
/* How many events emit took, counting those not kept. */
size_t harness_emitted(const struct harness *h);
/* How many times emit was called (taken, refused or pushed back). */
size_t harness_emit_calls(const struct harness *h);
/* Keep taken events in harness_events (default true). */
void harness_keep_events(struct harness *h, bool keep);
/* Call fn(event (borrowed), arg) for each event emit takes. */
void harness_on_emit(struct harness *h, void (*fn)(const json_t *event, void *arg), void *arg);
/* After `after` more successful emits, fail the next `count` emit calls with rc (OMB_EAGAIN,
 * OMB_ESTOPPED...) without taking the event. harness_emit_fail(h, 0, N, OMB_EAGAIN) fails the
 * first N. */
void harness_emit_fail(struct harness *h, unsigned after, unsigned count, int rc);

/* Acknowledged emits (ABI 1.2, emit_acked and emit_raw_acked). Off by default, so that a plugin
 * sees the host table of before (and falls back as against an older omnibusd); offer them before
 * harness_create. An event they take is kept and counted as emit's are (and fails as
 * harness_emit_fail says); its ack is queued and delivered, in emit order, by harness_run_acks or
 * at the start of the next harness_fire_timers (a later turn of the loop), and by harness_destroy
 * before the plugin's destroy unless held. emit_raw_acked keeps the event with its body parsed
 * (or as a string when it does not parse). */
void harness_offer_acks(struct harness *h, bool offer);
/* Deliver the acks queued so far (not those their callbacks cause); how many. */
int harness_run_acks(struct harness *h);
/* How many acks wait to be delivered. */
size_t harness_acks_pending(const struct harness *h);
/* While held, harness_fire_timers and harness_destroy deliver no acks (destroy then drops them,
 * as after an abnormal end); harness_run_acks still does. */
void harness_hold_acks(struct harness *h, bool hold);
/* After `after` more commits succeed, the next `count` fail: their acks get OMB_EIO. */
void harness_commit_fail(struct harness *h, unsigned after, unsigned count);

/* The value host->stopping() returns. */
void harness_set_stopping(struct harness *h, bool stopping);

/* Timers: how many are armed, and fire each armed timer once, whatever its delay (one-shot
 * timers are disarmed first), after delivering the acks queued (unless held). Returns how many
 * timers fired. */
size_t harness_timers(const struct harness *h);
int harness_fire_timers(struct harness *h);

/* The fake clock: after harness_clock_set, now_ms/monotonic_ms return it (the real clocks
 * before). */
void harness_clock_set(int64_t ms);
void harness_clock_advance(int64_t ms);

/* Log lines the plugin wrote: how many at `level` (-1: any) contain `needle` (NULL: any). Each
 * line is also printed to stderr. */
size_t harness_log_count(const struct harness *h, int level, const char *needle);

/* Metrics the plugin reported (0 when never reported). */
uint64_t harness_counter(const struct harness *h, const char *name);
int64_t harness_gauge(const struct harness *h, const char *name);

/* The fake host's event check (also used by emit). */
int harness_event_check(const json_t *event, char *err, size_t errlen);

/* ---- files ---- */

/* $top_builddir/tests/tmp/<test>, emptied and created. New string; NULL on failure. */
char *harness_tmpdir(const char *test);
/* A new string from printf-style arguments; aborts on ENOMEM. */
char *harness_path(const char *fmt, ...) OMB_PRINTF(1, 2);
/* Write text to path (creating or replacing it); 0 or -1. */
int harness_write_file(const char *path, const char *text);
/* The whole file as a new string, NULL when it cannot be read. */
char *harness_read_file(const char *path);
bool harness_exists(const char *path);
/* rm -rf path; 0 or -1. */
int harness_rm_rf(const char *path);
/* True when every option of the plugin is named as `name` in the markdown file at doc_path;
 * prints the missing ones. */
bool harness_options_documented(const struct harness *h, const char *doc_path);

#endif /* OMNIBUS_TESTS_HARNESS_H */
