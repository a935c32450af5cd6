/* The file connector's acknowledgements: a drop file is moved to done-dir only once every event
 * read from it is durably in the daemon's journal (host->emit_acked, ABI 1.2). Each file being
 * emitted, or emitted and waiting for its acks, is a batch; the scan leaves its file alone. */
#include <stdlib.h>
#include <string.h>

#include "file.h"

struct file_batch {
    struct file_ctx *c;
    char *name;
    unsigned long outstanding; /* emitted, not yet acknowledged */
    unsigned long count;       /* emitted */
    bool closed;               /* every line was emitted (or the file was given up) */
    bool given_up;             /* rejected midway: nothing to move when the acks are in */
    bool failed;               /* an event was not stored: read the whole file again */
    struct file_batch *next;
};

bool file_acked(const struct file_ctx *c)
{
    return OMB_HOST_HAS(c->host, emit_acked);
}

struct file_batch *file_batch_new(struct file_ctx *c, const char *name)
{
    struct file_batch *b = calloc(1, sizeof(*b));
    if (!b || !(b->name = strdup(name))) {
        free(b);
        return NULL;
    }
    b->c = c;
    b->next = c->batches;
    c->batches = b;
    return b;
}

static void batch_free(struct file_batch *b)
{
    struct file_ctx *c = b->c;
    for (struct file_batch **pp = &c->batches; *pp; pp = &(*pp)->next) {
        if (*pp == b) {
            *pp = b->next;
            break;
        }
    }
    free(b->name);
    free(b);
}

static void maybe_done(struct file_batch *b)
{
    if (!b->closed || b->outstanding > 0) {
        return;
    }
    if (!b->given_up) {
        file_source_file_stored(b->c, b->name, b->count, b->failed);
    }
    batch_free(b);
}

void file_batch_emitted(struct file_batch *b)
{
    b->outstanding++;
    b->count++;
}

void file_batch_ack(void *arg, int rc)
{
    struct file_batch *b = arg;
    if (rc < 0) {
        b->failed = true;
    }
    b->outstanding--;
    maybe_done(b);
}

void file_batch_close(struct file_batch *b, bool given_up)
{
    b->closed = true;
    b->given_up = given_up;
    maybe_done(b);
}

bool file_batch_busy(const struct file_ctx *c, const char *name)
{
    for (const struct file_batch *b = c->batches; b; b = b->next) {
        if (strcmp(b->name, name) == 0) {
            return true;
        }
    }
    return false;
}

size_t file_batches_waiting(const struct file_ctx *c)
{
    size_t n = 0;
    for (const struct file_batch *b = c->batches; b; b = b->next) {
        n += b->closed;
    }
    return n;
}

void file_batches_free(struct file_ctx *c)
{
    while (c->batches) {
        struct file_batch *b = c->batches;
        if (b->closed && !b->given_up) {
            c->host->log(c->self, OMB_LOG_WARN,
                         "%s/%s: stopped before %lu of its events were acknowledged; the file "
                         "stays and is read again next time",
                         c->dir, b->name, b->outstanding);
        }
        batch_free(b);
    }
}
