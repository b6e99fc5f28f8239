/* runtime/heap.h: an intrusive, pointer-based binary min-heap (the shape of libuv's
 * heap-inl.h).  Nodes live inside the timers; inserting and removing allocate nothing and
 * cost O(log n).  The heap finds the insertion point by walking the bits of its size. */
#ifndef WAKEFUL_HEAP_H
#define WAKEFUL_HEAP_H

#include <stddef.h>

#include <wakeful/timer.h>

typedef struct wk_heap {
    wk_heap_node *min;
    size_t count;
} wk_heap;

/* Answers whether a orders strictly before b. */
typedef int (*wk_heap_less_fn)(const wk_heap_node *a, const wk_heap_node *b);

void wk__heap_insert(wk_heap *h, wk_heap_node *node, wk_heap_less_fn less);
void wk__heap_remove(wk_heap *h, wk_heap_node *node, wk_heap_less_fn less);

/* Checks every parent/child link and the heap order; returns 1 when sound (for tests). */
int wk__heap_validate(const wk_heap *h, wk_heap_less_fn less);

#endif
