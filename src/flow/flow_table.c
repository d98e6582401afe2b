/*
 * flow_table.c: a fixed-capacity table of bidirectional flows.
 *
 * All memory is taken at creation: an array of flows, a bucket array (a
 * power of two at least the capacity) and index links, so a flood of new
 * flows can only recycle slots, never grow the table. The hash is SipHash
 * over the endpoints in canonical order, so both directions meet in one
 * bucket. Each timeout class has an LRU list; expiry pops list tails, and
 * eviction (table full) takes the tail of the least valuable class.
 */
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"
#include "util/siphash.h"
#include "util/sort.h"

/* docs/bounds.md promises this; a bigger flow costs every gateway memory. */
_Static_assert(sizeof(struct flow) <= 128,
	       "struct flow grew past 128 bytes: update docs/bounds.md");

const struct flow_timeouts flow_default_timeouts = { .sec = {
							 [FLOW_CLOSED] = 10,
							 [FLOW_TCP_NEW] = 30,
							 [FLOW_UDP_NEW] = 30,
							 [FLOW_TCP_CLOSING] = 30,
							 [FLOW_UDP_EST] = 120,
							 [FLOW_TCP_EST] = 600,
						     } };

static const char *const state_names[FLOW_STATE_COUNT] = {
	"closed", "tcp_new", "udp_new", "tcp_closing", "udp_established", "tcp_established",
};

const char *flow_state_name(enum flow_state s)
{
	return (unsigned)s < FLOW_STATE_COUNT ? state_names[s] : "invalid";
}

size_t flow_slot_bytes(void)
{
	return sizeof(struct flow) + sizeof(uint32_t);
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

struct flow_table *flow_table_new(uint32_t capacity, const struct flow_timeouts *to,
				  const uint8_t hash_key[16])
{
	struct flow_table *t;

	if (capacity == 0 || capacity > FLOW_MAX_CAPACITY)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->capacity = capacity;
	t->nbuckets = pow2_at_least(capacity);
	t->flows = calloc(capacity, sizeof(*t->flows));
	t->buckets = malloc((size_t)t->nbuckets * sizeof(*t->buckets));
	if (!t->flows || !t->buckets) {
		flow_table_free(t);
		return NULL;
	}
	memset(t->buckets, 0xff, (size_t)t->nbuckets * sizeof(*t->buckets));
	for (uint32_t i = 0; i < capacity; i++)
		t->flows[i].hnext = i + 1 < capacity ? i + 1 : FLOW_NIL;
	t->free_head = 0;
	for (int s = 0; s < FLOW_STATE_COUNT; s++)
		t->lru[s].head = t->lru[s].tail = FLOW_NIL;
	t->timeouts = to ? *to : flow_default_timeouts;
	if (hash_key)
		memcpy(t->hash_key, hash_key, sizeof(t->hash_key));
	t->next_id = 1;
	t->last = FLOW_NIL;
	return t;
}

void flow_table_free(struct flow_table *t)
{
	if (!t)
		return;
	free(t->flows);
	free(t->buckets);
	free(t);
}

/* --- LRU lists ------------------------------------------------------- */

static void lru_unlink(struct flow_table *t, uint32_t i)
{
	struct flow *f = &t->flows[i];
	struct flow_list *l = &t->lru[f->state];

	if (f->lprev != FLOW_NIL)
		t->flows[f->lprev].lnext = f->lnext;
	else
		l->head = f->lnext;
	if (f->lnext != FLOW_NIL)
		t->flows[f->lnext].lprev = f->lprev;
	else
		l->tail = f->lprev;
}

static void lru_push(struct flow_table *t, uint32_t i)
{
	struct flow *f = &t->flows[i];
	struct flow_list *l = &t->lru[f->state];

	f->lprev = FLOW_NIL;
	f->lnext = l->head;
	if (l->head != FLOW_NIL)
		t->flows[l->head].lprev = i;
	else
		l->tail = i;
	l->head = i;
}

/* --- hashing --------------------------------------------------------- */

/*
 * Endpoints in canonical order so that both directions hash alike. An IPv4
 * flow hashes its 4-byte addresses (15 bytes in all, two SipHash blocks),
 * not the zero-padded 16 (39 bytes, five blocks): the same keyed SipHash-2-4
 * over less input, so hash flooding stays as hard; the lengths differ, and
 * SipHash mixes the length in, so IPv4 and IPv6 keys stay apart.
 */
static uint32_t bucket_of(const struct flow_table *t, uint8_t family, const uint8_t *a, uint16_t pa,
			  const uint8_t *b, uint16_t pb, uint8_t proto, uint16_t vlan)
{
	uint8_t buf[16 + 2 + 16 + 2 + 1 + 2];
	size_t alen = family == 4 ? 4 : 16, n;
	int c = memcmp(a, b, alen);

	if (c > 0 || (c == 0 && pa > pb)) {
		const uint8_t *tp = a;
		uint16_t tpp = pa;

		a = b, pa = pb, b = tp, pb = tpp;
	}
	if (family == 4) {
		memcpy(buf, a, 4);
		memcpy(buf + 4, &pa, 2);
		memcpy(buf + 6, b, 4);
		memcpy(buf + 10, &pb, 2);
		n = 12;
	} else {
		memcpy(buf, a, 16);
		memcpy(buf + 16, &pa, 2);
		memcpy(buf + 18, b, 16);
		memcpy(buf + 34, &pb, 2);
		n = 36;
	}
	buf[n] = proto;
	memcpy(buf + n + 1, &vlan, 2);
	return (uint32_t)siphash24(t->hash_key, buf, n + 3) & (t->nbuckets - 1);
}

static uint32_t bucket_of_flow(const struct flow_table *t, const struct flow *f)
{
	return bucket_of(t, f->key.family, f->key.addr[0], f->key.port[0], f->key.addr[1],
			 f->key.port[1], f->key.proto, f->key.vlan);
}

static bool key_match(const struct flow *f, const struct packet *p, enum flow_dir *dir)
{
	const struct flow_key *k = &f->key;

	if (k->proto != p->proto || k->vlan != p->vlan || k->family != p->family)
		return false;
	if (k->port[0] == p->sport && k->port[1] == p->dport && !memcmp(k->addr[0], p->src, 16) &&
	    !memcmp(k->addr[1], p->dst, 16)) {
		*dir = DIR_TO_SERVER;
		return true;
	}
	if (k->port[0] == p->dport && k->port[1] == p->sport && !memcmp(k->addr[0], p->dst, 16) &&
	    !memcmp(k->addr[1], p->src, 16)) {
		*dir = DIR_TO_CLIENT;
		return true;
	}
	return false;
}

/* --- removal --------------------------------------------------------- */

static void remove_flow(struct flow_table *t, uint32_t i, enum flow_end why,
			flow_release_fn release, void *arg)
{
	struct flow *f = &t->flows[i];
	uint32_t *pp = &t->buckets[bucket_of_flow(t, f)];

	if (release)
		release(f, why, arg);
	while (*pp != i)
		pp = &t->flows[*pp].hnext;
	*pp = f->hnext;
	if (t->last == i)
		t->last = FLOW_NIL;
	lru_unlink(t, i);
	memset(f, 0, sizeof(*f));
	f->hnext = t->free_head;
	t->free_head = i;
	t->stats.active--;
	if (why == FLOW_END_EVICTED)
		t->stats.evicted++;
	else if (why == FLOW_END_TIMEOUT)
		t->stats.expired++;
}

void flow_expire(struct flow_table *t, uint64_t now_us, flow_release_fn release, void *arg)
{
	for (int s = 0; s < FLOW_STATE_COUNT; s++) {
		uint64_t idle_us = (uint64_t)t->timeouts.sec[s] * 1000000u;

		while (t->lru[s].tail != FLOW_NIL) {
			uint32_t i = t->lru[s].tail;

			if (now_us < t->flows[i].last_us + idle_us)
				break;
			remove_flow(t, i, FLOW_END_TIMEOUT, release, arg);
		}
	}
}

static int by_id(const void *a, const void *b)
{
	const struct flow *fa = *(struct flow *const *)a, *fb = *(struct flow *const *)b;

	return (fa->id > fb->id) - (fa->id < fb->id);
}

void flow_flush(struct flow_table *t, flow_release_fn release, void *arg)
{
	struct flow **v;
	uint32_t n = 0;

	if (t->stats.active == 0)
		return;
	/* Oldest first, so a capture's leftover flows come out in a stable order. */
	v = malloc((size_t)t->stats.active * sizeof(*v));
	for (int s = 0; s < FLOW_STATE_COUNT; s++)
		for (uint32_t i = t->lru[s].head; i != FLOW_NIL; i = t->flows[i].lnext)
			if (v)
				v[n++] = &t->flows[i];
	if (v) {
		sort_n(v, n, sizeof(*v), by_id);
		for (uint32_t k = 0; k < n; k++)
			remove_flow(t, (uint32_t)(v[k] - t->flows), FLOW_END_FLUSH, release, arg);
		free(v);
	}
	/* Without memory for the sort, release in list order: still complete. */
	for (int s = 0; s < FLOW_STATE_COUNT; s++)
		while (t->lru[s].tail != FLOW_NIL)
			remove_flow(t, t->lru[s].tail, FLOW_END_FLUSH, release, arg);
}

/* --- tracking -------------------------------------------------------- */

static uint32_t take_slot(struct flow_table *t, flow_release_fn release, void *arg)
{
	uint32_t i;

	if (t->free_head == FLOW_NIL) {
		for (int s = 0; s < FLOW_STATE_COUNT; s++) {
			if (t->lru[s].tail != FLOW_NIL) {
				remove_flow(t, t->lru[s].tail, FLOW_END_EVICTED, release, arg);
				break;
			}
		}
	}
	i = t->free_head;
	t->free_head = t->flows[i].hnext;
	return i;
}

static struct flow *create(struct flow_table *t, const struct packet *p, uint32_t b,
			   enum flow_dir *dir, flow_release_fn release, void *arg)
{
	uint32_t i = take_slot(t, release, arg);
	struct flow *f = &t->flows[i];
	/* A SYN-ACK first means we missed the SYN: its receiver initiated. */
	bool swap =
	    p->proto == IPPROTO_TCP_ && (p->tcp_flags & (TH_SYN_ | TH_ACK_)) == (TH_SYN_ | TH_ACK_);

	memset(f, 0, sizeof(*f));
	f->key.family = p->family;
	f->key.proto = p->proto;
	f->key.vlan = p->vlan;
	memcpy(f->key.addr[swap], p->src, 16);
	memcpy(f->key.addr[!swap], p->dst, 16);
	f->key.port[swap] = p->sport;
	f->key.port[!swap] = p->dport;
	f->id = t->next_id++;
	f->first_us = f->last_us = p->ts_us;
	f->state = p->proto == IPPROTO_TCP_ ? FLOW_TCP_NEW : FLOW_UDP_NEW;
	if (p->proto == IPPROTO_TCP_ && (p->tcp_flags & (TH_SYN_ | TH_ACK_)) == TH_SYN_)
		f->flags |= FLOW_F_SYN;
	if (p->proto == IPPROTO_TCP_ && !(p->tcp_flags & TH_SYN_))
		f->flags |= FLOW_F_MIDSTREAM;
	f->hnext = t->buckets[b];
	t->buckets[b] = i;
	lru_push(t, i);
	t->stats.created++;
	if (++t->stats.active > t->stats.high_water)
		t->stats.high_water = t->stats.active;
	*dir = swap ? DIR_TO_CLIENT : DIR_TO_SERVER;
	return f;
}

static enum flow_state next_state(const struct flow *f, const struct packet *p, enum flow_dir dir)
{
	enum flow_state s = f->state;

	if (p->proto != IPPROTO_TCP_)
		return dir == DIR_TO_CLIENT ? FLOW_UDP_EST : s;
	if (p->tcp_flags & TH_RST_)
		return FLOW_CLOSED;
	if ((f->flags & (FLOW_F_FIN_CLI | FLOW_F_FIN_SRV)) == (FLOW_F_FIN_CLI | FLOW_F_FIN_SRV))
		return FLOW_CLOSED;
	if (f->flags & (FLOW_F_FIN_CLI | FLOW_F_FIN_SRV))
		return s == FLOW_CLOSED ? s : FLOW_TCP_CLOSING;
	/* Established once both sides have spoken: a lone SYN-ACK (backscatter
	 * of a spoofed flood) stays new and is evicted first. */
	if (s == FLOW_TCP_NEW && f->pkts[DIR_TO_SERVER] && f->pkts[DIR_TO_CLIENT])
		return FLOW_TCP_EST;
	return s;
}

struct flow *flow_track(struct flow_table *t, const struct packet *p, enum flow_dir *dir,
			flow_release_fn release, void *arg)
{
	struct flow *f = NULL;
	uint32_t b = FLOW_NIL, i;
	enum flow_state s;

	/* Captures can step back in time (merged files, reordering). Activity
	 * is stamped with the table's clock, which only moves forward, so each
	 * LRU list stays in last-activity order and its tail expires first. */
	if (p->ts_us > t->now_us)
		t->now_us = p->ts_us;

	/* Packets come in trains of one flow: the previous packet's flow is
	 * checked before hashing (SipHash was an eighth of replay's time). */
	if (t->last != FLOW_NIL && key_match(&t->flows[t->last], p, dir)) {
		i = t->last;
		f = &t->flows[i];
	} else {
		b = bucket_of(t, p->family, p->src, p->sport, p->dst, p->dport, p->proto, p->vlan);
		for (i = t->buckets[b]; i != FLOW_NIL; i = t->flows[i].hnext) {
			if (key_match(&t->flows[i], p, dir)) {
				f = &t->flows[i];
				break;
			}
		}
	}
	/* A fresh SYN on a closed flow's tuple is a new connection (port reuse). */
	if (f && f->state == FLOW_CLOSED && p->proto == IPPROTO_TCP_ &&
	    (p->tcp_flags & (TH_SYN_ | TH_ACK_)) == TH_SYN_) {
		remove_flow(t, i, FLOW_END_REUSED, release, arg);
		f = NULL;
	}
	if (!f) {
		if (b == FLOW_NIL)
			b = bucket_of(t, p->family, p->src, p->sport, p->dst, p->dport, p->proto,
				      p->vlan);
		f = create(t, p, b, dir, release, arg);
	}
	f->last_us = t->now_us;

	f->pkts[*dir]++;
	f->bytes[*dir] += p->payload_len;
	if (p->tcp_flags & TH_FIN_)
		f->flags |= *dir == DIR_TO_SERVER ? FLOW_F_FIN_CLI : FLOW_F_FIN_SRV;
	i = (uint32_t)(f - t->flows);
	s = next_state(f, p, *dir);
	/* To the head of its state's list; a flow already there (a train of
	 * packets, a flow just created) stays. */
	if (s != f->state || t->lru[s].head != i) {
		lru_unlink(t, i);
		f->state = s;
		lru_push(t, i);
	}
	t->last = i;
	return f;
}
