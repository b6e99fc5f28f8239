/* runtime/heap.c: see heap.h.  The tree is complete: node number k (1-based, in level
 * order) sits at the path spelled by the bits of k after the leading 1, 0 = left. */
#include "heap.h"

/* The address of the link that points at node number k (1-based). */
static wk_heap_node **heap_link_for(wk_heap *h, size_t k)
{
    int bits = 0;
    for (size_t n = k; n > 1; n >>= 1)
        bits++;
    wk_heap_node **link = &h->min;
    while (bits-- > 0)
        link = ((k >> bits) & 1) ? &(*link)->right : &(*link)->left;
    return link;
}

/* Swaps a parent with one of its children, fixing every link around the two. */
static void heap_swap(wk_heap *h, wk_heap_node *parent, wk_heap_node *child)
{
    wk_heap_node saved = *parent;
    wk_heap_node *sibling;

    *parent = *child;          /* parent takes child's children */
    *child = saved;            /* child takes parent's parent and children */
    parent->parent = child;
    if (child->left == child) {
        child->left = parent;
        sibling = child->right;
    } else {
        child->right = parent;
        sibling = child->left;
    }
    if (sibling)
        sibling->parent = child;
    if (parent->left)
        parent->left->parent = parent;
    if (parent->right)
        parent->right->parent = parent;
    if (child->parent == NULL)
        h->min = child;
    else if (child->parent->left == parent)
        child->parent->left = child;
    else
        child->parent->right = child;
}

static void heap_sift_up(wk_heap *h, wk_heap_node *node, wk_heap_less_fn less)
{
    while (node->parent && less(node, node->parent))
        heap_swap(h, node->parent, node);
}

void wk__heap_insert(wk_heap *h, wk_heap_node *node, wk_heap_less_fn less)
{
    node->left = node->right = node->parent = NULL;
    size_t k = h->count + 1;
    if (k == 1) {
        h->min = node;
    } else {
        wk_heap_node *parent = *heap_link_for(h, k >> 1);
        node->parent = parent;
        if (k & 1)
            parent->right = node;
        else
            parent->left = node;
    }
    h->count = k;
    heap_sift_up(h, node, less);
}

void wk__heap_remove(wk_heap *h, wk_heap_node *node, wk_heap_less_fn less)
{
    if (h->count == 0)
        return;
    /* Unlink the last node; unless it is the one removed, it takes the removed one's place
     * and then moves down or up until the order holds again. */
    wk_heap_node **last_link = heap_link_for(h, h->count);
    wk_heap_node *last = *last_link;
    *last_link = NULL;
    h->count--;
    if (last == node) {
        if (h->min == node)
            h->min = NULL;
        return;
    }
    last->left = node->left;
    last->right = node->right;
    last->parent = node->parent;
    if (last->left)
        last->left->parent = last;
    if (last->right)
        last->right->parent = last;
    if (node->parent == NULL)
        h->min = last;
    else if (node->parent->left == node)
        node->parent->left = last;
    else
        node->parent->right = last;

    for (;;) {
        wk_heap_node *smallest = last;
        if (last->left && less(last->left, smallest))
            smallest = last->left;
        if (last->right && less(last->right, smallest))
            smallest = last->right;
        if (smallest == last)
            break;
        heap_swap(h, last, smallest);
    }
    heap_sift_up(h, last, less);
}

static size_t heap_check(const wk_heap_node *n, const wk_heap_node *parent, wk_heap_less_fn less,
                         int *ok)
{
    if (n == NULL)
        return 0;
    if (n->parent != parent || (parent && less(n, parent)))
        *ok = 0;
    return 1 + heap_check(n->left, n, less, ok) + heap_check(n->right, n, less, ok);
}

int wk__heap_validate(const wk_heap *h, wk_heap_less_fn less)
{
    int ok = 1;
    size_t n = heap_check(h->min, NULL, less, &ok);
    return ok && n == h->count;
}
