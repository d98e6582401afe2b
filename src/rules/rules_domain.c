/*
 * rules_domain.c: domain-name sets with label-aware wildcards.
 *
 * "*.example.com" matches names strictly below example.com at any depth,
 * never example.com itself and never badexample.com: matching walks label
 * boundaries, not characters. "turn-*.example.com" matches one leftmost
 * label by glob ('*' = any run of characters inside that label) under
 * example.com. Lookups lower-case the name and probe the hash once per
 * label suffix, so their cost depends on the name, not on the set's size.
 * A looked-up name with an empty label (".a.com", "a..com") matches nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"
#include "util/bigmem.h"
#include "util/sort.h"

#define DNS_NAME_MAX 253
#define DNS_LABEL_MAX 63

/*
 * The hash of a name is built label by label from its last one, so that
 * one pass over a looked-up name gives the hash of every suffix at a label
 * boundary: each label is hashed 8 bytes at a time and folded into the
 * running value of the suffix after it; a final mix makes the low bits
 * (the bucket or slot) and the high bits (the tag kept there) both vary.
 */
#define HASH_SEED 0xcbf29ce484222325ULL
#define HASH_K1 0x9e3779b97f4a7c15ULL
#define HASH_K2 0xff51afd7ed558ccdULL
#define ONES 0x0101010101010101ULL

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= HASH_K2;
	h ^= h >> 33;
	return h;
}

/* The first n (1 to 8) bytes in memory of a word loaded from there. */
static uint64_t first_bytes(uint64_t w, size_t n)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return n == 8 ? w : w & ~(~0ULL >> (8 * n));
#else
	return n == 8 ? w : w & ~(~0ULL << (8 * n));
#endif
}

static uint64_t fold_word(uint64_t l, uint64_t w)
{
	l = (l ^ w) * HASH_K1;
	return l ^ (l >> 29);
}

/* A label's words done: into h, the running hash of the suffix after it. */
static uint64_t fold_into(uint64_t h, uint64_t l)
{
	h = (h ^ l) * HASH_K2;
	return h ^ (h >> 32);
}

/* Label p (n bytes, n > 0) into h, reading only its n bytes. */
static uint64_t fold_label(uint64_t h, const char *p, size_t n)
{
	uint64_t l = n, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		l = fold_word(l, w);
	}
	if (i < n) {
		w = 0;
		memcpy(&w, p + i, n - i);
		l = fold_word(l, w);
	}
	return fold_into(h, l);
}

/* The same for the walk, whose buffer may be read up to 7 bytes past a
 * label: whole words, the last one cut to the label. */
static inline __attribute__((always_inline)) uint64_t fold_label_padded(uint64_t h, const char *p,
									size_t n)
{
	uint64_t l = n, w;
	size_t i = 0;

	for (; i + 8 < n; i += 8) {
		memcpy(&w, p + i, 8);
		l = fold_word(l, w);
	}
	memcpy(&w, p + i, 8);
	return fold_into(h, fold_word(l, first_bytes(w, n - i)));
}

/* The hash of an entry's name (lower case, no empty label). */
static uint64_t key_hash(const char *s, size_t n)
{
	uint64_t h = HASH_SEED;
	size_t end = n;

	for (size_t i = n; i-- > 0;)
		if (s[i] == '.') {
			h = fold_label(h, s + i + 1, end - i - 1);
			end = i;
		}
	return mix(fold_label(h, s, end));
}

/* 8 bytes at once: 'A'-'Z' to lower case, every other byte as it is. */
static uint64_t lower8(uint64_t w)
{
	uint64_t low7 = w & (0x7f * ONES);
	uint64_t ge_a = low7 + (0x80 - 'A') * ONES, gt_z = low7 + (0x80 - 'Z' - 1) * ONES;

	return w | ((ge_a & ~gt_z & ~w & (0x80 * ONES)) >> 2);
}

/* 0x80 in each byte of w that is a dot, 0 elsewhere. */
static uint64_t dots8(uint64_t w)
{
	uint64_t t = w ^ ('.' * ONES);

	return ~(((t & (0x7f * ONES)) + 0x7f * ONES) | t | (0x7f * ONES));
}

/* The index in memory of the first byte a dots8() mask marks. */
static unsigned first_marked(uint64_t m)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return (unsigned)__builtin_clzll(m) / 8;
#else
	return (unsigned)__builtin_ctzll(m) / 8;
#endif
}

/*
 * Records live in chunks that double from 64 bytes (small sets stay small)
 * up to 64 KiB; they never move, so written[] points into them. A slot
 * names a record by chunk and offset in 32 bits.
 */
#define CHUNK_MAX 65536u
#define CHUNKS_MAX 65535u

/* A record's reference: its chunk (from 0) and offset, in 32 bits. */
static uint32_t ref_of(uint32_t chunk, uint32_t off)
{
	return (chunk + 1) << 16 | off;
}

/* A slot's value: the hash's high half and the record's reference. */
static uint64_t slot_value(uint64_t h, uint32_t ref)
{
	return h >> 32 << 32 | ref;
}

/* The record a slot's value (or a reference) names. */
static struct domain_entry *at_ref(const struct domain_set *s, uint64_t v)
{
	return (struct domain_entry *)(void *)(s->chunks[((uint32_t)v >> 16) - 1] + (v & 0xffff));
}

/* A record for the written form str (n bytes), its slot value's low half
 * in *ref. */
static struct domain_entry *rec_new(struct domain_set *s, const char *str, size_t n, uint32_t *ref)
{
	size_t need = (sizeof(struct domain_entry) + n + 1 + 3) & ~(size_t)3;
	struct domain_entry *e;

	if (!s->nchunks || s->tailcap - s->tail < need) {
		uint32_t cap = s->nchunks ? s->tailcap * 2 : 64;
		char *c;

		if (cap > CHUNK_MAX)
			cap = CHUNK_MAX;
		if (cap < need)
			cap = (uint32_t)need;
		if (s->nchunks == CHUNKS_MAX)
			return NULL;
		if (s->nchunks == s->chunkroom) {
			uint32_t room = s->chunkroom ? s->chunkroom * 2 : 2;
			char **v = realloc(s->chunks, room * sizeof(*v));

			if (!v)
				return NULL;
			s->chunks = v;
			s->chunkroom = room;
		}
		if (!(c = malloc(cap)))
			return NULL;
		s->chunks[s->nchunks++] = c;
		s->tail = 0;
		s->tailcap = cap;
	}
	e = (struct domain_entry *)(void *)(s->chunks[s->nchunks - 1] + s->tail);
	*ref = ref_of(s->nchunks - 1, s->tail);
	s->tail += (uint32_t)need;
	memset(e, 0, sizeof(*e));
	memcpy(e->text, str, n);
	e->text[n] = '\0';
	return e;
}

struct domain_set *domain_set_new(const char *name)
{
	struct domain_set *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->name = strdup(name);
	s->nslots = 4;
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	if (!s->name || !s->slots) {
		domain_set_free(s);
		return NULL;
	}
	return s;
}

void domain_set_free(struct domain_set *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->nmore; i++) {
		for (uint32_t g = 0; g < s->more[i].nglobs; g++)
			free(s->more[i].globs[g]);
		free(s->more[i].globs);
		free(s->more[i].tags);
	}
	for (uint32_t i = 0; i < s->nchunks; i++)
		free(s->chunks[i]);
	free(s->chunks);
	free(s->more);
	free(s->filter);
	free(s->cells);
	free(s->cell_at);
	free(s->written);
	free(s->slots);
	free(s->name);
	free(s);
}

/* The slot of the entry named key, or the empty slot where it would go. */
static uint64_t *slot_of(const struct domain_set *s, const char *key, size_t n, uint64_t h)
{
	uint32_t mask = s->nslots - 1, tag = (uint32_t)(h >> 32);

	for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
		uint64_t *v = &s->slots[i];
		const struct domain_entry *e;

		if (!*v)
			return v;
		if ((uint32_t)(*v >> 32) != tag)
			continue;
		e = at_ref(s, *v);
		if (e->len == n && !memcmp(e->text + e->skip, key, n))
			return v;
	}
}

/* What a lookup needs of an entry: its forms and its more index. */
struct found {
	uint32_t more;
	bool exact, below;
};

#define CELL_EXACT 1u
#define CELL_BELOW 2u
#define CELL_MORE 4u /* a 32-bit more index follows the first 4 bytes */

static size_t cell_size(size_t len, bool more)
{
	return (4 + (more ? 4 : 0) + len + 3) & ~(size_t)3;
}

/* The sealed form of lookup(): the cells of the key's bucket. */
static bool cell_find(const struct domain_set *s, const char *key, size_t n, uint64_t h,
		      struct found *f)
{
	uint32_t b = (uint32_t)h & s->cmask;
	const uint8_t *p = s->cells + s->cell_at[b], *end = s->cells + s->cell_at[b + 1];
	uint16_t tag = (uint16_t)(h >> 48), t;

	while (p < end) {
		unsigned len = p[0], fl = p[1];
		const uint8_t *name = p + ((fl & CELL_MORE) ? 8 : 4);

		memcpy(&t, p + 2, sizeof(t));
		if (t == tag && len == n && !memcmp(name, key, n)) {
			f->exact = fl & CELL_EXACT;
			f->below = fl & CELL_BELOW;
			f->more = 0;
			if (fl & CELL_MORE)
				memcpy(&f->more, p + 4, sizeof(f->more));
			return true;
		}
		p += cell_size(len, fl & CELL_MORE);
	}
	return false;
}

/* Is the entry named key there? Its forms in *f if so. */
static bool lookup(const struct domain_set *s, const char *key, size_t n, uint64_t h,
		   struct found *f)
{
	const struct domain_entry *e;
	uint64_t v;

	if (s->cells)
		return cell_find(s, key, n, h, f);
	if (!(v = *slot_of(s, key, n, h)))
		return false;
	e = at_ref(s, v);
	f->exact = e->exact;
	f->below = e->below;
	f->more = e->more;
	return true;
}

/* The filter's block for a hash and its three bits in it (of 512). */
#define FILTER_MIN 4096 /* entries; a smaller table stays in cache anyway */

static uint64_t filter_spread(uint64_t h)
{
	return h * 0x9e3779b97f4a7c15ULL; /* odd: a bijection of the hash */
}

static void filter_add(struct domain_set *s, uint64_t h)
{
	uint64_t g = filter_spread(h);
	uint64_t *b = s->filter + 8 * ((g >> 32) & (s->fblocks - 1));

	for (int k = 0; k < 3; k++, g >>= 9)
		b[(g & 511) >> 6] |= 1ULL << (g & 63);
}

static bool filter_has(const struct domain_set *s, uint64_t h)
{
	uint64_t g = filter_spread(h);
	const uint64_t *b = s->filter + 8 * ((g >> 32) & (s->fblocks - 1));

	for (int k = 0; k < 3; k++, g >>= 9)
		if (!(b[(g & 511) >> 6] & (1ULL << (g & 63))))
			return false;
	return true;
}

/* Build the filter again for the table's size (from every name). */
static void filter_build(struct domain_set *s)
{
	uint32_t blocks = s->nslots / 64;
	uint64_t *f = aligned_alloc(64, (size_t)blocks * 64);

	if (!f)
		return; /* only lookups' speed depends on it */
	free(s->filter);
	memset(f, 0, (size_t)blocks * 64);
	s->filter = f;
	s->fblocks = blocks;
	for (uint32_t i = 0; i < s->nslots; i++)
		if (s->slots[i]) {
			const struct domain_entry *e = at_ref(s, s->slots[i]);

			filter_add(s, key_hash(e->text + e->skip, e->len));
		}
}

/* Twice the slots; the hashes are computed again from the names. */
static int grow(struct domain_set *s)
{
	uint64_t *old = s->slots;
	uint32_t oldn = s->nslots;

	s->slots = calloc((size_t)oldn * 2, sizeof(*s->slots));
	if (!s->slots) {
		s->slots = old;
		return -1;
	}
	bigmem_advise(s->slots, (size_t)oldn * 2 * sizeof(*s->slots));
	s->nslots = oldn * 2;
	for (uint32_t i = 0; i < oldn; i++)
		if (old[i]) {
			const struct domain_entry *e = at_ref(s, old[i]);

			*slot_of(s, e->text + e->skip, e->len,
				 key_hash(e->text + e->skip, e->len)) = old[i];
		}
	free(old);
	if (s->used >= FILTER_MIN)
		filter_build(s);
	return 0;
}

/* The record of a written form (s->written[i]). */
static const struct domain_entry *entry_of(const char *text)
{
	return (const struct domain_entry *)(const void *)(text -
							   offsetof(struct domain_entry, text));
}

/*
 * Seal: the entries into their buckets' cells (a counting sort by bucket),
 * then the slots go. About used / 2 buckets: two entries a bucket on
 * average, some 50 bytes, mostly one cache line. The filter stays.
 */
int domain_set_seal(struct domain_set *s)
{
	uint32_t nb = 1, k = 0, *at, *pos;
	uint64_t *hs;
	uint8_t *cells = NULL;
	size_t total = 0;

	if (s->cells)
		return 0;
	while (nb < s->used / 2)
		nb *= 2;
	at = calloc((size_t)nb + 1, sizeof(*at));
	if (at)
		bigmem_advise(at, ((size_t)nb + 1) * sizeof(*at));
	pos = malloc(nb * sizeof(*pos));
	hs = malloc((s->used ? s->used : 1) * sizeof(*hs));
	if (!at || !pos || !hs)
		goto fail;
	/* The records in the order they were written (in memory order, unlike
	 * the slots'): each entry's first one has its length set. */
	for (uint32_t i = 0; i < s->count; i++) {
		const struct domain_entry *e = entry_of(s->written[i]);
		size_t size;

		if (!e->len)
			continue;
		hs[k] = key_hash(e->text + e->skip, e->len);
		size = cell_size(e->len, e->more != 0);
		total += size;
		at[(hs[k++] & (nb - 1)) + 1] += (uint32_t)size;
	}
	if (total > UINT32_MAX || !(cells = malloc(total ? total : 1)))
		goto fail;
	bigmem_advise(cells, total); /* before the pages are first touched */
	for (uint32_t b = 0; b < nb; b++)
		at[b + 1] += at[b];
	memcpy(pos, at, nb * sizeof(*pos));
	k = 0;
	for (uint32_t i = 0; i < s->count; i++) {
		const struct domain_entry *e = entry_of(s->written[i]);
		uint8_t *p;
		uint16_t tag;
		size_t size, hdr;

		if (!e->len)
			continue;
		p = cells + pos[hs[k] & (nb - 1)];
		tag = (uint16_t)(hs[k] >> 48);
		size = cell_size(e->len, e->more != 0);
		hdr = e->more ? 8 : 4;
		memset(p, 0, size);
		p[0] = e->len;
		p[1] = (uint8_t)((e->exact ? CELL_EXACT : 0) | (e->below ? CELL_BELOW : 0) |
				 (e->more ? CELL_MORE : 0));
		memcpy(p + 2, &tag, sizeof(tag));
		if (e->more)
			memcpy(p + 4, &e->more, sizeof(e->more));
		memcpy(p + hdr, e->text + e->skip, e->len);
		pos[hs[k++] & (nb - 1)] += (uint32_t)size;
	}
	free(pos);
	free(hs);
	free(s->slots);
	s->slots = NULL;
	s->cells = cells;
	s->cell_at = at;
	s->cmask = nb - 1;
	return 0;
fail:
	free(at);
	free(pos);
	free(hs);
	return -1;
}

struct chunk_at {
	uintptr_t base;
	uint32_t i;
};

static int cmp_chunk(const void *a, const void *b)
{
	const struct chunk_at *x = a, *y = b;

	return (x->base > y->base) - (x->base < y->base);
}

/*
 * An add after the seal: the slots again, from the records (the first
 * record of each name, the one with its length set), then the cells go.
 * A slot names its record by chunk: the chunks sorted by address tell
 * which one a record is in.
 */
static int unseal(struct domain_set *s)
{
	struct chunk_at *c = malloc((s->nchunks ? s->nchunks : 1) * sizeof(*c));
	uint64_t *slots = calloc(s->nslots, sizeof(*slots));

	if (!c || !slots) {
		free(c);
		free(slots);
		return -1;
	}
	for (uint32_t i = 0; i < s->nchunks; i++)
		c[i] = (struct chunk_at){ (uintptr_t)s->chunks[i], i };
	sort_n(c, s->nchunks, sizeof(*c), cmp_chunk);
	s->slots = slots;
	for (uint32_t i = 0; i < s->count; i++) {
		const struct domain_entry *e = entry_of(s->written[i]);
		uintptr_t a = (uintptr_t)e;
		uint32_t lo = 0, hi = s->nchunks;
		uint64_t h;

		if (!e->len)
			continue;     /* a name written again: its first record is the entry */
		while (hi - lo > 1) { /* the last chunk starting at or before a */
			uint32_t mid = lo + (hi - lo) / 2;

			if (c[mid].base <= a)
				lo = mid;
			else
				hi = mid;
		}
		h = key_hash(e->text + e->skip, e->len);
		*slot_of(s, e->text + e->skip, e->len, h) =
		    slot_value(h, ref_of(c[lo].i, (uint32_t)(a - c[lo].base)));
	}
	free(c);
	free(s->cells);
	free(s->cell_at);
	s->cells = NULL;
	s->cell_at = NULL;
	return 0;
}

static struct domain_more *more_of(struct domain_set *s, struct domain_entry *e)
{
	if (!e->more) {
		if (s->nmore == s->moreroom) {
			uint32_t room = s->moreroom ? s->moreroom * 2 : 4;
			struct domain_more *m = realloc(s->more, room * sizeof(*m));

			if (!m)
				return NULL;
			s->more = m;
			s->moreroom = room;
		}
		memset(&s->more[s->nmore], 0, sizeof(s->more[0]));
		e->more = ++s->nmore;
	}
	return &s->more[e->more - 1];
}

static bool is_label_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
}

/* Validate a lower-cased pattern; '*' is allowed in the first label only. */
static int check_pattern(const char *p, size_t n, size_t *col, const char **why)
{
	size_t label = 0;
	bool first = true;

	if (n == 0) {
		*col = 0, *why = "empty name";
		return -1;
	}
	if (n > DNS_NAME_MAX) {
		*col = DNS_NAME_MAX, *why = "name longer than 253 characters";
		return -1;
	}
	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == '.') {
			if (label == 0) {
				*col = i, *why = "empty label";
				return -1;
			}
			label = 0;
			first = false;
			continue;
		}
		if (++label > DNS_LABEL_MAX) {
			*col = i, *why = "label longer than 63 characters";
			return -1;
		}
		if (p[i] == '*' && !first) {
			*col = i, *why = "'*' is only allowed in the leftmost label";
			return -1;
		}
		if (p[i] != '*' && !is_label_char(p[i])) {
			*col = i, *why = "character not allowed in a domain name";
			return -1;
		}
	}
	return 0;
}

enum { FORM_EXACT, FORM_BELOW, FORM_GLOB };

static uint64_t depth_of(unsigned labels)
{
	return 1ULL << (labels < 63 ? labels : 63);
}

/* The bit of exact_depths or wild_depths for a name. */
static uint64_t depth_bit(const char *name, size_t n)
{
	unsigned labels = 1;

	for (size_t i = 0; i < n; i++)
		labels += name[i] == '.';
	return depth_of(labels);
}

static int add_tag(struct domain_set *s, struct domain_entry *e, uint32_t form, uint32_t tag)
{
	struct domain_more *m;
	struct domain_tag *v;

	if (tag == DOMAIN_NO_TAG)
		return 0;
	if (!(m = more_of(s, e)))
		return -1;
	v = realloc(m->tags, (m->ntags + 1) * sizeof(*v));
	if (!v)
		return -1;
	m->tags = v;
	m->tags[m->ntags].form = form;
	m->tags[m->ntags++].tag = tag;
	return 0;
}

int domain_set_add(struct domain_set *s, const char *pattern, size_t *col, const char **why)
{
	return domain_set_add_tag(s, pattern, DOMAIN_NO_TAG, col, why);
}

int domain_set_add_tag(struct domain_set *s, const char *pattern, uint32_t tag, size_t *col,
		       const char **why)
{
	char buf[DNS_NAME_MAX + 2];
	size_t n = strlen(pattern), dot, skip = 0, kn;
	uint32_t ref;
	const char *star;
	struct domain_entry *e;
	uint64_t *slot, h;
	char *glob = NULL;

	if (n > DNS_NAME_MAX + 1) {
		*col = DNS_NAME_MAX, *why = "name longer than 253 characters";
		return -1;
	}
	if (s->cells && unseal(s) < 0) {
		*col = 0, *why = "out of memory";
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		buf[i] =
		    (pattern[i] >= 'A' && pattern[i] <= 'Z') ? (char)(pattern[i] + 32) : pattern[i];
	if (n > 1 && buf[n - 1] == '.')
		n--;
	buf[n] = '\0';
	if (check_pattern(buf, n, col, why) < 0)
		return -1;
	star = memchr(buf, '*', n);
	if (star) {
		const char *d = memchr(buf, '.', n);

		if (!d) {
			*col = 0, *why = "a wildcard needs a domain after it, as in *.example.com";
			return -1;
		}
		dot = (size_t)(d - buf);
		skip = dot + 1;
		if (!(dot == 1 && buf[0] == '*')) {
			glob = strndup(buf, dot);
			if (!glob)
				goto nomem;
		}
	}
	if ((s->used + 1) * 2 > s->nslots && grow(s) < 0)
		goto nomem;
	if (!(s->count & (s->count - 1))) { /* 0, 1, 2, 4...: double */
		char **v = realloc(s->written, (s->count ? s->count * 2 : 1) * sizeof(*v));

		if (!v)
			goto nomem;
		s->written = v;
	}
	kn = n - skip;
	if (star)
		s->wild_depths |= depth_bit(buf + skip, kn);
	else
		s->exact_depths |= depth_bit(buf + skip, kn);
	h = key_hash(buf + skip, kn);
	slot = slot_of(s, buf + skip, kn, h);
	if (!(e = rec_new(s, buf, n, &ref)))
		goto nomem;
	s->written[s->count++] = e->text;
	if (!*slot) {
		e->len = (uint8_t)kn;
		e->skip = (uint8_t)skip;
		*slot = slot_value(h, ref);
		s->used++;
		if (s->filter)
			filter_add(s, h);
	}
	e = at_ref(s, *slot);
	if (!star) {
		e->exact = 1;
		if (add_tag(s, e, FORM_EXACT, tag) < 0)
			goto nomem;
	} else if (!glob) {
		e->below = 1;
		if (add_tag(s, e, FORM_BELOW, tag) < 0)
			goto nomem;
	} else {
		struct domain_more *m = more_of(s, e);
		char **g = m ? realloc(m->globs, (m->nglobs + 1) * sizeof(*g)) : NULL;

		if (!g)
			goto nomem;
		m->globs = g;
		m->globs[m->nglobs++] = glob;
		glob = NULL;
		if (add_tag(s, e, FORM_GLOB + m->nglobs - 1, tag) < 0)
			goto nomem;
	}
	return 0;
nomem:
	free(glob);
	*col = 0, *why = "out of memory";
	return -1;
}

/* '*' matches any run of characters; the text is one label (no dots). */
static bool glob_match(const char *p, const char *t, size_t tn)
{
	const char *star = NULL;
	size_t ti = 0, back = 0;

	while (ti < tn) {
		if (*p == '*') {
			star = p++;
			back = ti;
		} else if (*p && *p == t[ti]) {
			p++;
			ti++;
		} else if (star) {
			p = star + 1;
			ti = ++back;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/*
 * The entries a name falls under, one label at a time: the name itself
 * (exact), then each suffix after a dot (below, and the globs of the
 * leftmost label). With no callback, stop at the first and say so; else
 * call it for every form that matches. One pass lower-cases the name and
 * finds its dots 8 bytes at a time, a second one from its last label
 * hashes every suffix; the buckets of all of them are fetched
 * at once before the first is looked at, so that a big table's cache
 * misses overlap instead of adding up.
 */
typedef void walk_fn(const struct domain_set *s, uint32_t more, uint32_t form, void *arg);

static bool walk(const struct domain_set *s, const char *name, size_t len, walk_fn *cb, void *arg)
{
	char buf[DNS_NAME_MAX + 1 + 8]; /* + 8: fold_label() and the words read past */
	uint64_t hs[DNS_NAME_MAX / 2 + 1], h = HASH_SEED;
	uint8_t at[DNS_NAME_MAX / 2 + 1], dot[DNS_NAME_MAX / 2 + 1];
	unsigned n = 0, nd = 0, leftmost;
	size_t end;
	bool hit = false;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX || s->used == 0)
		return false;
	memcpy(buf, name, len);
	memset(buf + len, 0, 8);
	for (size_t i = 0; i < len; i += 8) {
		uint64_t w, d;

		memcpy(&w, buf + i, 8);
		w = lower8(w);
		memcpy(buf + i, &w, 8);
		for (d = dots8(w); d; d &= d - 1) {
			/* An empty label is no DNS name: it never matches. */
			if (nd == DNS_NAME_MAX / 2)
				return false;
			dot[nd++] = (uint8_t)(i + first_marked(d));
		}
	}
	if (nd && (dot[0] == 0 || dot[nd - 1] == len - 1))
		return false;
	for (unsigned k = 1; k < nd; k++)
		if (dot[k] == dot[k - 1] + 1)
			return false;
	/* The suffixes from the last label: hs[n] the hash of buf + at[n]. */
	end = len;
	for (unsigned k = nd + 1; k-- > 0;) {
		size_t start = k ? dot[k - 1] + 1U : 0;

		h = fold_label_padded(h, buf + start, end - start);
		at[n] = (uint8_t)start;
		/* 0: no entry has this many labels, or the filter says the set
		 * has no such name (the whole name asks only for exact ones) */
		hs[n] = 0;
		if ((k ? s->wild_depths : s->exact_depths) & depth_of(n + 1)) {
			hs[n] = mix(h);
			if (s->filter && !filter_has(s, hs[n]))
				hs[n] = 0;
			else if (s->cells)
				__builtin_prefetch(&s->cell_at[hs[n] & s->cmask]);
			else
				__builtin_prefetch(&s->slots[hs[n] & (s->nslots - 1)]);
		}
		n++;
		end = start - 1;
	}
	/* hs[n - 1] is the whole name, hs[n - 2] the name minus its leftmost
	 * label, the only suffix whose globs apply. */
	leftmost = n >= 2 ? at[n - 2] : 0;
	while (n-- > 0) {
		struct found e;
		const struct domain_more *m;

		if (!hs[n] || !lookup(s, buf + at[n], len - at[n], hs[n], &e))
			continue;
		if (at[n] == 0) {
			if (e.exact) {
				if (!cb)
					return true;
				cb(s, e.more, FORM_EXACT, arg);
				hit = true;
			}
			continue;
		}
		if (e.below) {
			if (!cb)
				return true;
			cb(s, e.more, FORM_BELOW, arg);
			hit = true;
		}
		m = e.more ? &s->more[e.more - 1] : NULL;
		for (uint32_t g = 0; m && at[n] == leftmost && g < m->nglobs; g++)
			if (glob_match(m->globs[g], buf, at[n] - 1U)) {
				if (!cb)
					return true;
				cb(s, e.more, FORM_GLOB + g, arg);
				hit = true;
			}
	}
	return hit;
}

bool domain_set_match(const struct domain_set *s, const char *name, size_t len)
{
	return walk(s, name, len, NULL, NULL);
}

struct tag_walk {
	void (*cb)(uint32_t tag, void *arg);
	void *arg;
};

static void each_tag(const struct domain_set *s, uint32_t more, uint32_t form, void *arg)
{
	const struct tag_walk *w = arg;
	const struct domain_more *m = more ? &s->more[more - 1] : NULL;

	for (uint32_t i = 0; m && i < m->ntags; i++)
		if (m->tags[i].form == form)
			w->cb(m->tags[i].tag, w->arg);
}

void domain_set_tags(const struct domain_set *s, const char *name, size_t len,
		     void (*cb)(uint32_t tag, void *arg), void *arg)
{
	struct tag_walk w = { cb, arg };

	walk(s, name, len, each_tag, &w);
}
