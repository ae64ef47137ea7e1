/*
 * sim_heap: the event queue of the discrete-event simulators (sim_gossip,
 * sim_committee): a binary min-heap of caller-owned items ordered by time,
 * then by the order they were pushed, so events due at the same time run
 * first in, first out and a seed replays the same on every machine.
 */
#ifndef SIM_HEAP_H
#define SIM_HEAP_H

#include <stdint.h>
#include <stdlib.h>

typedef struct {
    uint64_t t, seq;
    void *item;
} sim_heap_entry_t;

typedef struct {
    sim_heap_entry_t *entries;
    size_t n, cap;
    uint64_t seq; /* pushes so far: the tie-break */
} sim_heap_t;

static inline int
sim_heap_before (const sim_heap_entry_t *a, const sim_heap_entry_t *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static inline void
sim_heap_swap (sim_heap_t *h, size_t i, size_t j)
{
    sim_heap_entry_t tmp = h->entries[i];
    h->entries[i] = h->entries[j];
    h->entries[j] = tmp;
}

/* Queues item at time t. Aborts on out-of-memory (a simulator). */
static inline void
sim_heap_push (sim_heap_t *h, uint64_t t, void *item)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 1024;
        h->entries = realloc (h->entries, h->cap * sizeof *h->entries);
        if (!h->entries)
            abort ();
    }
    size_t i = h->n++;
    h->entries[i] = (sim_heap_entry_t){ .t = t, .seq = h->seq++, .item = item };
    while (i && sim_heap_before (&h->entries[i], &h->entries[(i - 1) / 2])) {
        sim_heap_swap (h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

/* The earliest item, removed from the queue; NULL when it is empty. */
static inline void *
sim_heap_pop (sim_heap_t *h)
{
    if (!h->n)
        return NULL;
    void *top = h->entries[0].item;
    h->entries[0] = h->entries[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && sim_heap_before (&h->entries[l], &h->entries[m]))
            m = l;
        if (r < h->n && sim_heap_before (&h->entries[r], &h->entries[m]))
            m = r;
        if (m == i)
            break;
        sim_heap_swap (h, i, m);
        i = m;
    }
    return top;
}

/* Frees the queue's own memory; the items left in it are the caller's. */
static inline void
sim_heap_fini (sim_heap_t *h)
{
    free (h->entries);
    *h = (sim_heap_t){ 0 };
}

#endif
