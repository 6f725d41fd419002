/*
 * ber_mutator.c - a structure-aware libFuzzer mutator for vmgen records.
 *
 * Linked into the "struct" build of a fuzz target.  LLVMFuzzerCustomMutator
 * parses the input as a tree of BER TLVs (definite lengths; a constructed
 * value whose contents do not parse is kept as raw bytes), applies one to
 * three structural mutations, and writes the tree back with fresh lengths:
 *
 *   length    a TLV's length octets replaced: off by one, zero, indefinite
 *             (0x80), non-minimal long forms, 5+-byte and SIZE_MAX lengths,
 *             the reserved 0xff, lengths past the input;
 *   count     a member or list element duplicated or removed;
 *   tag       a tag changed (neighbouring context number, universal tags,
 *             the constructed bit, high-tag-number form), siblings swapped;
 *   extension an unknown trailing member appended to a SEQUENCE, with the
 *             record's version bumped (a newer writer) or not;
 *   nesting   a value wrapped in one or many SEQUENCEs, unwrapped, or
 *             replaced by a copy of another subtree;
 *   integer   INTEGER-like contents replaced by edge values (empty,
 *             non-minimal, 2^63, 2^64, -1, 9+ bytes).
 *
 * Anything it cannot parse, and a share of the calls, go to LLVMFuzzerMutate
 * (libFuzzer's byte-level mutations).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed);

#define MAX_NODES 16384
#define MAX_DEPTH 200
#define ARENA_SIZE (1u << 16)
#define SCRATCH_SIZE (1u << 20)

typedef struct Node {
    uint8_t id[8];
    size_t idlen;
    int constructed;       /* children valid (else raw contents) */
    const uint8_t *raw;    /* primitive (or unparsed) contents */
    size_t rawlen;
    int child;             /* first child, -1 for none */
    int next;              /* next sibling, -1 for none */
    uint8_t len[12];       /* length octets override */
    size_t lenlen;         /* 0: minimal DER length */
} Node;

static Node nodes[MAX_NODES];
static int nnodes;
static uint8_t arena[ARENA_SIZE];
static size_t arena_used;
static uint8_t scratch[SCRATCH_SIZE];
static uint64_t rng;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return n ? (unsigned)(rng % n) : 0;
}

static int new_node(void)
{
    if (nnodes >= MAX_NODES) {
        return -1;
    }
    memset(&nodes[nnodes], 0, sizeof(Node));
    nodes[nnodes].child = -1;
    nodes[nnodes].next = -1;
    return nnodes++;
}

static uint8_t *alloc_bytes(size_t n)
{
    uint8_t *p;

    if (n > ARENA_SIZE - arena_used) {
        return NULL;
    }
    p = arena + arena_used;
    arena_used += n;
    return p;
}

/* One TLV header at b[*pos..end): identifier and definite length. */
static int parse_header(const uint8_t *b, size_t *pos, size_t end, Node *n,
                        size_t *len)
{
    size_t p = *pos, k, l = 0;

    if (p >= end) {
        return 0;
    }
    n->id[0] = b[p++];
    n->idlen = 1;
    if ((n->id[0] & 0x1f) == 0x1f) {
        do {
            if (p >= end || n->idlen >= sizeof(n->id)) {
                return 0;
            }
            n->id[n->idlen++] = b[p];
        } while (b[p++] & 0x80);
    }
    if (p >= end) {
        return 0;
    }
    if (b[p] < 0x80) {
        l = b[p++];
    } else {
        k = b[p++] & 0x7fu;
        if (k == 0 || k > 4 || k > end - p) {
            return 0;
        }
        while (k--) {
            l = (l << 8) | b[p++];
        }
    }
    if (l > end - p) {
        return 0;
    }
    *pos = p;
    *len = l;
    return 1;
}

/* Parses the TLVs of b[pos..end) as a sibling chain; returns the first
 * node, -1 for none, -2 on failure. */
static int parse_seq(const uint8_t *b, size_t pos, size_t end, int depth)
{
    int first = -1, last = -1, i, c;
    size_t len;

    while (pos < end) {
        i = new_node();
        if (i < 0 || !parse_header(b, &pos, end, &nodes[i], &len)) {
            return -2;
        }
        nodes[i].raw = b + pos;
        nodes[i].rawlen = len;
        if ((nodes[i].id[0] & 0x20) && depth < MAX_DEPTH) {
            int mark = nnodes;

            c = parse_seq(b, pos, pos + len, depth + 1);
            if (c == -2) {
                nnodes = mark; /* keep the contents raw */
            } else {
                nodes[i].constructed = 1;
                nodes[i].child = c;
            }
        }
        pos += len;
        if (last >= 0) {
            nodes[last].next = i;
        } else {
            first = i;
        }
        last = i;
    }
    return first;
}

static size_t len_size(size_t n)
{
    size_t k = 1;

    if (n < 0x80) {
        return 1;
    }
    while (n >>= 8) {
        k++;
    }
    return 1 + k;
}

static size_t content_size(int i, int depth);

static size_t node_size(int i, int depth)
{
    size_t c = content_size(i, depth);

    return nodes[i].idlen + (nodes[i].lenlen ? nodes[i].lenlen : len_size(c)) +
           c;
}

static size_t content_size(int i, int depth)
{
    size_t s = 0;
    int c;

    if (!nodes[i].constructed) {
        return nodes[i].rawlen;
    }
    if (depth > 400) {
        return (size_t)-1 / 4;
    }
    for (c = nodes[i].child; c >= 0; c = nodes[c].next) {
        s += node_size(c, depth + 1);
        if (s > SIZE_MAX / 8) {
            return SIZE_MAX / 8;
        }
    }
    return s;
}

/* Writes node i at out[*pos..max); 0 if it does not fit. */
static int emit(int i, uint8_t *out, size_t *pos, size_t max, int depth)
{
    size_t c = content_size(i, depth), k;
    int ch;

    if (nodes[i].idlen > max - *pos) {
        return 0;
    }
    memcpy(out + *pos, nodes[i].id, nodes[i].idlen);
    *pos += nodes[i].idlen;
    if (nodes[i].lenlen) {
        if (nodes[i].lenlen > max - *pos) {
            return 0;
        }
        memcpy(out + *pos, nodes[i].len, nodes[i].lenlen);
        *pos += nodes[i].lenlen;
    } else {
        k = len_size(c);
        if (k > max - *pos) {
            return 0;
        }
        if (k == 1) {
            out[(*pos)++] = (uint8_t)c;
        } else {
            out[(*pos)++] = (uint8_t)(0x80 | (k - 1));
            while (--k) {
                out[(*pos)++] = (uint8_t)(c >> (8 * (k - 1)));
            }
        }
    }
    if (!nodes[i].constructed) {
        if (nodes[i].rawlen > max - *pos) {
            return 0;
        }
        memcpy(out + *pos, nodes[i].raw, nodes[i].rawlen);
        *pos += nodes[i].rawlen;
        return 1;
    }
    if (depth > 400) {
        return 0;
    }
    for (ch = nodes[i].child; ch >= 0; ch = nodes[ch].next) {
        if (!emit(ch, out, pos, max, depth + 1)) {
            return 0;
        }
    }
    return 1;
}

/* ---- mutations ------------------------------------------------------------ */

static int pick_node(void)
{
    return (int)rnd((unsigned)nnodes);
}

static int pick_constructed(void)
{
    int tries, i;

    for (tries = 0; tries < 16; tries++) {
        i = pick_node();
        if (nodes[i].constructed) {
            return i;
        }
    }
    return -1;
}

static int count_children(int i)
{
    int n = 0, c;

    for (c = nodes[i].child; c >= 0; c = nodes[c].next) {
        n++;
    }
    return n;
}

static int nth_child(int i, int k)
{
    int c = nodes[i].child;

    while (c >= 0 && k--) {
        c = nodes[c].next;
    }
    return c;
}

static void set_len(Node *n, const uint8_t *bytes, size_t k)
{
    memcpy(n->len, bytes, k);
    n->lenlen = k;
}

static int mutate_length(void)
{
    Node *n = &nodes[pick_node()];
    size_t c = content_size((int)(n - nodes), 0), v;
    uint8_t b[12];
    size_t k, j;

    switch (rnd(10)) {
    case 0: /* off by one, short or long form */
    case 1:
        v = rnd(2) ? c + 1 : (c ? c - 1 : 1);
        if (v < 0x80) {
            b[0] = (uint8_t)v;
            set_len(n, b, 1);
        } else {
            b[0] = 0x82;
            b[1] = (uint8_t)(v >> 8);
            b[2] = (uint8_t)v;
            set_len(n, b, 3);
        }
        return 1;
    case 2: /* indefinite */
        b[0] = 0x80;
        set_len(n, b, 1);
        return 1;
    case 3: /* non-minimal long form of the right length */
        k = 1 + rnd(8);
        b[0] = (uint8_t)(0x80 | k);
        for (j = 0; j < k; j++) {
            b[1 + j] = (uint8_t)(k - 1 - j < sizeof(size_t) ? c >> (8 * (k - 1 - j)) : 0);
        }
        set_len(n, b, 1 + k);
        return 1;
    case 4: /* SIZE_MAX and 2^32 - 1 */
        k = rnd(2) ? 8 : 4;
        b[0] = (uint8_t)(0x80 | k);
        memset(b + 1, 0xff, k);
        set_len(n, b, 1 + k);
        return 1;
    case 5: /* more length octets than size_t holds */
        k = 9 + rnd(3);
        b[0] = (uint8_t)(0x80 | k);
        memset(b + 1, 0, k);
        b[k] = (uint8_t)c;
        b[1] = (uint8_t)rnd(2);
        set_len(n, b, 1 + k);
        return 1;
    case 6: /* reserved */
        b[0] = 0xff;
        set_len(n, b, 1);
        return 1;
    case 7: /* zero */
        b[0] = 0;
        set_len(n, b, 1);
        return 1;
    case 8: /* past the input */
        v = c + 1 + rnd(1u << 16);
        b[0] = 0x83;
        b[1] = (uint8_t)(v >> 16);
        b[2] = (uint8_t)(v >> 8);
        b[3] = (uint8_t)v;
        set_len(n, b, 4);
        return 1;
    default: /* random */
        k = 1 + rnd(4);
        for (j = 0; j < k; j++) {
            b[j] = (uint8_t)rnd(256);
        }
        set_len(n, b, k);
        return 1;
    }
}

static int copy_node(int src)
{
    int i = new_node();

    if (i < 0) {
        return -1;
    }
    nodes[i] = nodes[src];
    nodes[i].next = -1;
    return i;
}

static int mutate_count(void)
{
    int p = pick_constructed(), n, k, c, d, prev;

    if (p < 0 || (n = count_children(p)) == 0) {
        return 0;
    }
    k = (int)rnd((unsigned)n);
    c = nth_child(p, k);
    if (rnd(2)) { /* duplicate, maybe several times */
        int times = rnd(4) ? 1 : 1 + (int)rnd(40), t;

        for (t = 0; t < times; t++) {
            d = copy_node(c);
            if (d < 0) {
                return t > 0;
            }
            nodes[d].next = nodes[c].next;
            nodes[c].next = d;
        }
        return 1;
    }
    if (k == 0) {
        nodes[p].child = nodes[c].next;
    } else {
        prev = nth_child(p, k - 1);
        nodes[prev].next = nodes[c].next;
    }
    return 1;
}

static int mutate_tag(void)
{
    Node *n = &nodes[pick_node()];
    uint8_t t = n->id[0];

    switch (rnd(7)) {
    case 0:
        if ((t & 0x1f) < 30) {
            n->id[0] = (uint8_t)(t + 1);
        }
        break;
    case 1:
        if ((t & 0x1f) > 0 && (t & 0x1f) != 0x1f) {
            n->id[0] = (uint8_t)(t - 1);
        }
        break;
    case 2: { /* universal tags the reader knows */
        static const uint8_t u[] = {0x01, 0x02, 0x04, 0x0a, 0x1a, 0x30, 0x05, 0x00};
        n->id[0] = u[rnd(sizeof(u))];
        n->idlen = 1;
        break;
    }
    case 3:
        n->id[0] ^= 0x20;
        break;
    case 4: /* high tag number form */
        n->id[0] = (uint8_t)((t & 0xe0) | 0x1f);
        switch (rnd(4)) {
        case 0:
            n->id[1] = (uint8_t)rnd(31); /* invalid: < 31 */
            n->idlen = 2;
            break;
        case 1:
            n->id[1] = 0x80; /* invalid leading 0x80 */
            n->id[2] = 0x01;
            n->idlen = 3;
            break;
        case 2:
            memset(n->id + 1, 0xff, 5);
            n->id[6] = 0x7f; /* > 32 bits */
            n->idlen = 7;
            break;
        default:
            n->id[1] = (uint8_t)(31 + rnd(97));
            n->idlen = 2;
            break;
        }
        break;
    case 5:
        n->id[0] = (uint8_t)((t & 0x3f) | (uint8_t)(rnd(4) << 6));
        break;
    default: { /* swap two siblings */
        int p = pick_constructed(), k, a, b;
        Node tmp;

        if (p < 0 || count_children(p) < 2) {
            return 0;
        }
        k = (int)rnd((unsigned)count_children(p) - 1);
        a = nth_child(p, k);
        b = nodes[a].next;
        tmp = nodes[a];
        nodes[a] = nodes[b];
        nodes[b] = tmp;
        nodes[b].next = nodes[a].next;
        nodes[a].next = b;
        return 1;
    }
    }
    return 1;
}

/* The record's version INTEGER: the second member of the top SEQUENCE. */
static void bump_version(int top)
{
    int v = nth_child(top, 1);
    uint8_t *p;
    size_t k;
    uint64_t x = 0;

    if (v < 0 || nodes[v].constructed || nodes[v].rawlen == 0 ||
        nodes[v].rawlen > 5) {
        return;
    }
    for (k = 0; k < nodes[v].rawlen; k++) {
        x = (x << 8) | nodes[v].raw[k];
    }
    x += 1 + (rnd(4) ? 0 : rnd(1000));
    p = alloc_bytes(6);
    if (!p) {
        return;
    }
    /* minimal two's complement of a non-negative value */
    k = 0;
    {
        uint8_t tmp[9];
        size_t m = 0;

        do {
            tmp[m++] = (uint8_t)x;
            x >>= 8;
        } while (x);
        if (tmp[m - 1] & 0x80) {
            tmp[m++] = 0;
        }
        while (m) {
            p[k++] = tmp[--m];
        }
    }
    nodes[v].raw = p;
    nodes[v].rawlen = k;
}

static int mutate_extension(int top)
{
    int p = rnd(3) ? pick_constructed() : top, n, e, last;
    uint8_t *content;
    size_t k, j;

    if (p < 0) {
        return 0;
    }
    n = count_children(p);
    e = new_node();
    if (e < 0) {
        return 0;
    }
    switch (rnd(3)) {
    case 0: /* the next context tag, primitive */
        nodes[e].id[0] = (uint8_t)(0x80 | (n < 30 ? n : 30));
        break;
    case 1: /* the next context tag, constructed */
        nodes[e].id[0] = (uint8_t)(0xa0 | (n < 30 ? n : 30));
        break;
    default: /* a high context tag */
        nodes[e].id[0] = 0x9f;
        nodes[e].id[1] = (uint8_t)(31 + rnd(90));
        nodes[e].idlen = 2;
        break;
    }
    if (nodes[e].idlen == 0) {
        nodes[e].idlen = 1;
    }
    k = rnd(12);
    content = alloc_bytes(k);
    if (!content) {
        return 0;
    }
    for (j = 0; j < k; j++) {
        content[j] = (uint8_t)rnd(256);
    }
    if ((nodes[e].id[0] & 0x20) && k >= 2) {
        content[0] = 0x02; /* an INTEGER inside */
        content[1] = (uint8_t)(k - 2);
    }
    nodes[e].raw = content;
    nodes[e].rawlen = k;
    if (n == 0) {
        nodes[p].child = e;
    } else {
        last = nth_child(p, n - 1);
        nodes[last].next = e;
    }
    if (rnd(2)) {
        bump_version(top);
    }
    return 1;
}

static int mutate_nesting(void)
{
    int i = pick_node(), w, t, times;

    switch (rnd(4)) {
    case 0:
    case 1: /* wrap in one or many SEQUENCEs */
        times = rnd(3) ? 1 : 1 + (int)rnd(80);
        for (t = 0; t < times; t++) {
            w = copy_node(i);
            if (w < 0) {
                return t > 0;
            }
            /* i becomes the wrapper, w the old value */
            nodes[i].id[0] = rnd(2) ? 0x30 : (uint8_t)(nodes[w].id[0] | 0x20);
            nodes[i].idlen = 1;
            nodes[i].lenlen = 0;
            nodes[i].constructed = 1;
            nodes[i].child = w;
        }
        return 1;
    case 2: /* unwrap */
        if (!nodes[i].constructed || nodes[i].child < 0) {
            return 0;
        }
        {
            int c = nodes[i].child, next = nodes[i].next;

            nodes[i] = nodes[c];
            nodes[i].next = next;
        }
        return 1;
    default: { /* replace by a copy of another subtree */
        int src = pick_node(), next = nodes[i].next;

        if (src == i) {
            return 0;
        }
        nodes[i] = nodes[src];
        nodes[i].next = next;
        /* the copy must not contain i itself */
        return 1;
    }
    }
}

static int mutate_integer(void)
{
    static const uint8_t edges[][10] = {
        {0},                                   /* empty */
        {1, 0x00},                             /* 0 */
        {1, 0xff},                             /* -1 */
        {1, 0x7f},
        {2, 0x00, 0x80},
        {2, 0x00, 0x01},                       /* non-minimal */
        {2, 0xff, 0x80},                       /* non-minimal negative */
        {8, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
        {8, 0x80, 0, 0, 0, 0, 0, 0, 0},        /* INT64_MIN */
        {9, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
        {9, 0x01, 0, 0, 0, 0, 0, 0, 0, 0},     /* 2^64 */
        {9, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
        {5, 0x00, 0xff, 0xff, 0xff, 0xff},     /* 2^32 - 1 */
        {5, 0x01, 0x00, 0x00, 0x00, 0x00},     /* 2^32 */
    };
    int i, tries;
    uint8_t *p;
    size_t k, j;

    for (tries = 0; tries < 16; tries++) {
        i = pick_node();
        if (!nodes[i].constructed) {
            break;
        }
    }
    if (nodes[i].constructed) {
        return 0;
    }
    if (rnd(4)) {
        k = rnd(sizeof(edges) / sizeof(edges[0]));
        nodes[i].raw = edges[k] + 1;
        nodes[i].rawlen = edges[k][0];
        return 1;
    }
    k = rnd(24);
    p = alloc_bytes(k);
    if (!p) {
        return 0;
    }
    for (j = 0; j < k; j++) {
        p[j] = (uint8_t)rnd(256);
    }
    nodes[i].raw = p;
    nodes[i].rawlen = k;
    return 1;
}

/* Subtree copies can make a node its own descendant; refuse such trees
 * (and absurdly deep ones).  Depth-first with colours: linear. */
static uint8_t colour[MAX_NODES];

static int acyclic(int i, int depth)
{
    int c;

    if (depth > 400 || colour[i] == 1) {
        return 0;
    }
    if (colour[i] == 2 || !nodes[i].constructed) {
        return 1;
    }
    colour[i] = 1;
    for (c = nodes[i].child; c >= 0; c = nodes[c].next) {
        if (!acyclic(c, depth + 1)) {
            return 0;
        }
    }
    colour[i] = 2;
    return 1;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed)
{
    int top, i, done = 0, want;
    size_t pos, tail_at, len;

    rng = ((uint64_t)seed << 32) ^ 0x9e3779b97f4a7c15ull ^ size;
    if (size == 0 || size > SCRATCH_SIZE || rnd(5) == 0) {
        return LLVMFuzzerMutate(data, size, max_size);
    }
    memcpy(scratch, data, size);
    nnodes = 0;
    arena_used = 0;
    /* the first TLV is the record; whatever follows is kept raw */
    top = new_node();
    pos = 0;
    if (!parse_header(scratch, &pos, size, &nodes[top], &len)) {
        return LLVMFuzzerMutate(data, size, max_size);
    }
    nodes[top].raw = scratch + pos;
    nodes[top].rawlen = len;
    tail_at = pos + len;
    if (nodes[top].id[0] & 0x20) {
        i = parse_seq(scratch, pos, pos + len, 1);
        if (i == -2) {
            return LLVMFuzzerMutate(data, size, max_size);
        }
        nodes[top].constructed = 1;
        nodes[top].child = i;
    }
    want = 1 + (int)rnd(3);
    for (i = 0; i < 8 && done < want; i++) {
        switch (rnd(7)) {
        case 0:
            done += mutate_length();
            break;
        case 1:
            done += mutate_count();
            break;
        case 2:
            done += mutate_tag();
            break;
        case 3:
            done += mutate_extension(top);
            break;
        case 4:
            done += mutate_nesting();
            break;
        default:
            done += mutate_integer();
            break;
        }
    }
    memset(colour, 0, (size_t)nnodes);
    if (!done || !acyclic(top, 0)) {
        return LLVMFuzzerMutate(data, size, max_size);
    }
    pos = 0;
    if (!emit(top, data, &pos, max_size, 0)) {
        memcpy(data, scratch, size);
        return LLVMFuzzerMutate(data, size, max_size);
    }
    /* the bytes after the record: kept, or sometimes dropped */
    if (tail_at < size && rnd(4)) {
        len = size - tail_at;
        if (len <= max_size - pos) {
            memcpy(data + pos, scratch + tail_at, len);
            pos += len;
        }
    }
    return pos;
}
