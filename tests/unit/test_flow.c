/*
 * test_flow.c: the fixed-capacity flow table.
 *
 * Packets are made by hand (only the fields the table reads), and a release
 * callback records every flow that leaves the table, so each test asserts
 * exactly which flows went, why, and in what order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "flow/flow.h"
#include "util/siphash.h"

#define SEC 1000000ull /* microseconds */

/* --- packets -------------------------------------------------------- */

/* An IPv4 packet a:sp -> b:dp; addresses are host-order a.b.c.d words. */
static struct packet pkt4(uint8_t proto, uint32_t a, uint16_t sp, uint32_t b, uint16_t dp,
                          uint8_t flags, uint64_t ts_us)
{
	struct packet p;

	memset(&p, 0, sizeof(p));
	p.ts_us = ts_us;
	p.family = 4;
	p.proto = proto;
	p.src[0] = (uint8_t)(a >> 24);
	p.src[1] = (uint8_t)(a >> 16);
	p.src[2] = (uint8_t)(a >> 8);
	p.src[3] = (uint8_t)a;
	p.dst[0] = (uint8_t)(b >> 24);
	p.dst[1] = (uint8_t)(b >> 16);
	p.dst[2] = (uint8_t)(b >> 8);
	p.dst[3] = (uint8_t)b;
	p.sport = sp;
	p.dport = dp;
	p.tcp_flags = proto == IPPROTO_TCP_ ? flags : 0;
	return p;
}

/* The same packet travelling the other way. */
static struct packet reverse(const struct packet *p, uint8_t flags, uint64_t ts_us)
{
	struct packet r = *p;

	memcpy(r.src, p->dst, 16);
	memcpy(r.dst, p->src, 16);
	r.sport = p->dport;
	r.dport = p->sport;
	r.tcp_flags = p->proto == IPPROTO_TCP_ ? flags : 0;
	r.ts_us = ts_us;
	r.payload_len = 0;
	return r;
}

#define CLIENT 0x0a000001u /* 10.0.0.1 */
#define SERVER 0xc0000201u /* 192.0.2.1 */

/* Client port sp to the server's 443, at second s. */
static struct packet syn_from(uint16_t sp, uint64_t s)
{
	return pkt4(IPPROTO_TCP_, CLIENT, sp, SERVER, 443, TH_SYN_, s * SEC);
}

/* --- release recorder ----------------------------------------------- */

struct released {
	uint64_t id;
	enum flow_end why;
	uint8_t state;
	uint16_t port0; /* the initiator's port */
};

struct recorder {
	struct released r[64];
	size_t n;
};

static void on_release(struct flow *f, enum flow_end why, void *arg)
{
	struct recorder *rec = arg;

	assert_true(rec->n < sizeof(rec->r) / sizeof(rec->r[0]));
	rec->r[rec->n].id = f->id;
	rec->r[rec->n].why = why;
	rec->r[rec->n].state = f->state;
	rec->r[rec->n].port0 = f->key.port[0];
	rec->n++;
}

static void assert_released(const struct recorder *rec, size_t k, uint64_t id,
                            enum flow_end why)
{
	assert_true(k < rec->n);
	assert_int_equal(rec->r[k].id, id);
	assert_int_equal(rec->r[k].why, why);
}

static struct flow *track(struct flow_table *t, const struct packet *p, enum flow_dir *dir,
                          struct recorder *rec)
{
	struct flow *f = flow_track(t, p, dir, on_release, rec);

	assert_non_null(f);
	return f;
}

/* --- creation ------------------------------------------------------- */

static void test_new_zero_capacity(void **state)
{
	(void)state;
	assert_null(flow_table_new(0, NULL, NULL));
	assert_null(flow_table_new(0, &flow_default_timeouts, (const uint8_t *)"0123456789abcdef"));
	/* A no-op, must not crash. */
	flow_table_free(NULL);
}

static void test_new_empty(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(1, NULL, NULL);
	struct recorder rec = { .n = 0 };

	assert_non_null(t);
	assert_int_equal(t->stats.active, 0);
	/* Nothing to expire or flush. */
	flow_expire(t, UINT64_MAX / 2, on_release, &rec);
	flow_flush(t, on_release, &rec);
	assert_int_equal(rec.n, 0);
	/* A capacity of one works. */
	struct packet p = syn_from(1000, 1);
	enum flow_dir dir;
	struct flow *f = track(t, &p, &dir, &rec);
	assert_int_equal(f->id, 1);
	p = syn_from(1001, 2);
	f = track(t, &p, &dir, &rec);
	assert_int_equal(f->id, 2);
	assert_int_equal(rec.n, 1);
	assert_released(&rec, 0, 1, FLOW_END_EVICTED);
	assert_int_equal(t->stats.active, 1);
	flow_table_free(t);
}

/* --- keys and directions -------------------------------------------- */

static void test_both_directions_one_flow(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(16, NULL, NULL);
	struct recorder rec = { .n = 0 };
	static const uint8_t cli[16] = { 10, 0, 0, 1 };
	static const uint8_t srv[16] = { 192, 0, 2, 1 };
	enum flow_dir dir = DIR_TO_CLIENT;
	struct packet syn = syn_from(50000, 1);
	struct packet synack = reverse(&syn, TH_SYN_ | TH_ACK_, 1 * SEC + 100);
	struct packet ack = syn;
	struct packet data = reverse(&syn, TH_PSH_ | TH_ACK_, 1 * SEC + 300);
	struct flow *f, *g;

	ack.tcp_flags = TH_ACK_;
	ack.ts_us = 1 * SEC + 200;
	ack.payload_len = 7;
	data.payload_len = 100;

	f = track(t, &syn, &dir, &rec);
	assert_int_equal(dir, DIR_TO_SERVER);
	assert_int_equal(f->id, 1);
	/* The SYN sender is the initiator: index 0 of the key. */
	assert_memory_equal(f->key.addr[0], cli, 16);
	assert_memory_equal(f->key.addr[1], srv, 16);
	assert_int_equal(f->key.port[0], 50000);
	assert_int_equal(f->key.port[1], 443);
	assert_int_equal(f->key.proto, IPPROTO_TCP_);
	assert_int_equal(f->key.family, 4);
	assert_int_equal(f->key.vlan, 0);
	assert_true(f->flags & FLOW_F_SYN);
	assert_false(f->flags & FLOW_F_MIDSTREAM);
	assert_int_equal(f->first_us, 1 * SEC);

	g = track(t, &synack, &dir, &rec);
	assert_ptr_equal(g, f);
	assert_int_equal(dir, DIR_TO_CLIENT);
	g = track(t, &ack, &dir, &rec);
	assert_ptr_equal(g, f);
	assert_int_equal(dir, DIR_TO_SERVER);
	g = track(t, &data, &dir, &rec);
	assert_ptr_equal(g, f);
	assert_int_equal(dir, DIR_TO_CLIENT);

	assert_int_equal(f->pkts[DIR_TO_SERVER], 2);
	assert_int_equal(f->pkts[DIR_TO_CLIENT], 2);
	assert_int_equal(f->bytes[DIR_TO_SERVER], 7);
	assert_int_equal(f->bytes[DIR_TO_CLIENT], 100);
	assert_int_equal(f->first_us, 1 * SEC);
	assert_int_equal(f->last_us, 1 * SEC + 300);
	assert_int_equal(t->stats.created, 1);
	assert_int_equal(t->stats.active, 1);
	assert_int_equal(rec.n, 0);
	flow_table_free(t);
}

static void test_synack_first(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(16, NULL, NULL);
	struct recorder rec = { .n = 0 };
	static const uint8_t cli[16] = { 10, 0, 0, 1 };
	static const uint8_t srv[16] = { 192, 0, 2, 1 };
	enum flow_dir dir = DIR_TO_SERVER;
	/* We missed the SYN: the server's SYN-ACK to 10.0.0.1:50000 comes first. */
	struct packet synack = pkt4(IPPROTO_TCP_, SERVER, 443, CLIENT, 50000,
	                            TH_SYN_ | TH_ACK_, 5 * SEC);
	struct packet ack = reverse(&synack, TH_ACK_, 5 * SEC + 1);
	struct flow *f, *g;

	f = track(t, &synack, &dir, &rec);
	/* Its receiver is the client, so the SYN-ACK travels to the client. */
	assert_int_equal(dir, DIR_TO_CLIENT);
	assert_memory_equal(f->key.addr[0], cli, 16);
	assert_memory_equal(f->key.addr[1], srv, 16);
	assert_int_equal(f->key.port[0], 50000);
	assert_int_equal(f->key.port[1], 443);
	assert_false(f->flags & FLOW_F_SYN);
	assert_false(f->flags & FLOW_F_MIDSTREAM); /* the SYN-ACK starts both sides */
	assert_int_equal(f->pkts[DIR_TO_CLIENT], 1);
	assert_int_equal(f->pkts[DIR_TO_SERVER], 0);

	g = track(t, &ack, &dir, &rec);
	assert_ptr_equal(g, f);
	assert_int_equal(dir, DIR_TO_SERVER);
	assert_int_equal(f->pkts[DIR_TO_SERVER], 1);
	assert_int_equal(f->state, FLOW_TCP_EST);
	assert_int_equal(t->stats.active, 1);
	flow_table_free(t);
}

/*
 * A lone SYN-ACK is one direction seen: flow-t.h defines FLOW_TCP_EST as
 * "both directions seen", so it must not be established (and so neither get
 * the long established timeout nor the strongest protection from eviction,
 * which matters for SYN-ACK backscatter). The client's answer establishes it.
 */
static void test_synack_first_state(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(16, NULL, NULL);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;
	struct packet synack = pkt4(IPPROTO_TCP_, SERVER, 443, CLIENT, 50000,
	                            TH_SYN_ | TH_ACK_, 5 * SEC);
	struct packet ack = reverse(&synack, TH_ACK_, 5 * SEC + 1);
	struct flow *f;

	uint8_t after_synack, after_ack;

	/* States are read first and the table freed before asserting, so a
	 * failure leaks nothing. */
	f = track(t, &synack, &dir, &rec);
	after_synack = f->state;
	track(t, &ack, &dir, &rec);
	after_ack = f->state;
	flow_table_free(t);
	assert_int_equal(after_synack, FLOW_TCP_NEW);
	assert_int_equal(after_ack, FLOW_TCP_EST);
}

static void test_midstream_first_packet_is_client(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(16, NULL, NULL);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;
	/* A plain ACK with data: no better guess than its sender. */
	struct packet p = pkt4(IPPROTO_TCP_, SERVER, 443, CLIENT, 50000, TH_ACK_, SEC);
	struct flow *f = track(t, &p, &dir, &rec);

	assert_int_equal(dir, DIR_TO_SERVER);
	assert_int_equal(f->key.port[0], 443);
	assert_false(f->flags & FLOW_F_SYN);
	assert_true(f->flags & FLOW_F_MIDSTREAM);
	assert_int_equal(f->state, FLOW_TCP_NEW);
	flow_table_free(t);
}

static void test_vlan_in_key(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(16, NULL, NULL);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;
	struct packet a = syn_from(50000, 1);
	struct packet b = a;
	struct packet ra, rb;
	struct flow *fa, *fb;

	a.vlan = 10;
	b.vlan = 20;
	fa = track(t, &a, &dir, &rec);
	fb = track(t, &b, &dir, &rec);
	assert_ptr_not_equal(fa, fb);
	assert_int_equal(fa->id, 1);
	assert_int_equal(fb->id, 2);
	assert_int_equal(fa->key.vlan, 10);
	assert_int_equal(fb->key.vlan, 20);
	assert_int_equal(t->stats.active, 2);

	/* Each reply finds the flow of its own VLAN. */
	ra = reverse(&a, TH_SYN_ | TH_ACK_, 2 * SEC);
	rb = reverse(&b, TH_SYN_ | TH_ACK_, 2 * SEC);
	assert_ptr_equal(track(t, &rb, &dir, &rec), fb);
	assert_int_equal(dir, DIR_TO_CLIENT);
	assert_ptr_equal(track(t, &ra, &dir, &rec), fa);
	assert_int_equal(dir, DIR_TO_CLIENT);
	assert_int_equal(fa->state, FLOW_TCP_EST);
	assert_int_equal(fb->state, FLOW_TCP_EST);

	/* Untagged: a third flow. */
	a.vlan = 0;
	assert_int_equal(track(t, &a, &dir, &rec)->id, 3);
	assert_int_equal(t->stats.active, 3);
	flow_table_free(t);
}

static void test_proto_family_in_key(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(16, NULL, NULL);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;
	struct packet tcp = pkt4(IPPROTO_TCP_, CLIENT, 5000, SERVER, 53, TH_SYN_, SEC);
	struct packet udp = pkt4(IPPROTO_UDP_, CLIENT, 5000, SERVER, 53, 0, SEC);
	/* Same bytes in the address fields, but IPv6. */
	struct packet v6 = tcp;
	struct packet other_port = tcp;

	v6.family = 6;
	other_port.sport = 5001;
	assert_int_equal(track(t, &tcp, &dir, &rec)->id, 1);
	assert_int_equal(track(t, &udp, &dir, &rec)->id, 2);
	assert_int_equal(track(t, &v6, &dir, &rec)->id, 3);
	assert_int_equal(track(t, &other_port, &dir, &rec)->id, 4);
	assert_int_equal(track(t, &tcp, &dir, &rec)->id, 1);
	assert_int_equal(track(t, &udp, &dir, &rec)->id, 2);
	assert_int_equal(track(t, &v6, &dir, &rec)->id, 3);
	assert_int_equal(t->stats.active, 4);
	flow_table_free(t);
}

static void test_same_address_both_ends(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(16, NULL, NULL);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;
	/* 127.0.0.1:40000 -> 127.0.0.1:8080 and back. */
	struct packet p = pkt4(IPPROTO_TCP_, 0x7f000001, 40000, 0x7f000001, 8080, TH_SYN_, SEC);
	struct packet r = reverse(&p, TH_SYN_ | TH_ACK_, SEC);
	struct flow *f = track(t, &p, &dir, &rec);

	assert_int_equal(dir, DIR_TO_SERVER);
	assert_ptr_equal(track(t, &r, &dir, &rec), f);
	assert_int_equal(dir, DIR_TO_CLIENT);
	assert_int_equal(t->stats.active, 1);
	flow_table_free(t);
}

static void test_ids_increase_from_one(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(64, NULL, NULL);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;

	for (uint16_t i = 0; i < 20; i++) {
		struct packet p = syn_from((uint16_t)(2000 + i), 1);

		assert_int_equal(track(t, &p, &dir, &rec)->id, i + 1);
	}
	/* Seeing an old flow again does not use an id. */
	struct packet again = syn_from(2005, 2);
	assert_int_equal(track(t, &again, &dir, &rec)->id, 6);
	struct packet next = syn_from(3000, 2);
	assert_int_equal(track(t, &next, &dir, &rec)->id, 21);
	assert_int_equal(t->stats.created, 21);
	flow_table_free(t);
}

/* --- states --------------------------------------------------------- */

static void test_tcp_states_fin(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(16, NULL, NULL);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;
	struct packet syn = syn_from(50000, 1);
	struct packet synack = reverse(&syn, TH_SYN_ | TH_ACK_, 1 * SEC);
	struct packet ack = syn;
	struct packet fin_c = syn;
	struct packet fin_s = reverse(&syn, TH_FIN_ | TH_ACK_, 3 * SEC);
	struct flow *f;

	ack.tcp_flags = TH_ACK_;
	fin_c.tcp_flags = TH_FIN_ | TH_ACK_;
	fin_c.ts_us = 2 * SEC;

	f = track(t, &syn, &dir, &rec);
	assert_int_equal(f->state, FLOW_TCP_NEW);
	/* A retransmitted SYN: still new. */
	track(t, &syn, &dir, &rec);
	assert_int_equal(f->state, FLOW_TCP_NEW);
	track(t, &synack, &dir, &rec);
	assert_int_equal(f->state, FLOW_TCP_EST);
	track(t, &ack, &dir, &rec);
	assert_int_equal(f->state, FLOW_TCP_EST);
	track(t, &fin_c, &dir, &rec);
	assert_int_equal(f->state, FLOW_TCP_CLOSING);
	assert_int_equal(f->flags & (FLOW_F_FIN_CLI | FLOW_F_FIN_SRV), FLOW_F_FIN_CLI);
	/* More data from the server while half-closed. */
	struct packet more = reverse(&syn, TH_ACK_, 2 * SEC);
	track(t, &more, &dir, &rec);
	assert_int_equal(f->state, FLOW_TCP_CLOSING);
	track(t, &fin_s, &dir, &rec);
	assert_int_equal(f->flags & (FLOW_F_FIN_CLI | FLOW_F_FIN_SRV),
	                 FLOW_F_FIN_CLI | FLOW_F_FIN_SRV);
	assert_int_equal(f->state, FLOW_CLOSED);
	/* The last ACK does not reopen it. */
	track(t, &ack, &dir, &rec);
	assert_int_equal(f->state, FLOW_CLOSED);
	assert_int_equal(t->stats.active, 1);
	assert_int_equal(rec.n, 0);
	flow_table_free(t);
}

static void test_tcp_fin_from_server_first(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(16, NULL, NULL);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;
	struct packet syn = syn_from(50000, 1);
	struct packet synack = reverse(&syn, TH_SYN_ | TH_ACK_, SEC);
	struct packet fin_s = reverse(&syn, TH_FIN_ | TH_ACK_, SEC);
	struct packet fin_c = syn;
	struct flow *f;

	fin_c.tcp_flags = TH_FIN_ | TH_ACK_;
	f = track(t, &syn, &dir, &rec);
	track(t, &synack, &dir, &rec);
	track(t, &fin_s, &dir, &rec);
	assert_int_equal(f->state, FLOW_TCP_CLOSING);
	assert_int_equal(f->flags & (FLOW_F_FIN_CLI | FLOW_F_FIN_SRV), FLOW_F_FIN_SRV);
	track(t, &fin_c, &dir, &rec);
	assert_int_equal(f->state, FLOW_CLOSED);
	flow_table_free(t);
}

static void test_tcp_rst(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(16, NULL, NULL);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;
	struct packet syn = syn_from(50000, 1);
	struct packet synack = reverse(&syn, TH_SYN_ | TH_ACK_, SEC);
	struct packet rst = reverse(&syn, TH_RST_ | TH_ACK_, SEC);
	struct packet syn2 = syn_from(50001, 1);
	struct packet rst2 = syn2;
	struct flow *f;

	/* Established, then reset by the server. */
	f = track(t, &syn, &dir, &rec);
	track(t, &synack, &dir, &rec);
	assert_int_equal(f->state, FLOW_TCP_EST);
	track(t, &rst, &dir, &rec);
	assert_int_equal(f->state, FLOW_CLOSED);

	/* Never answered, reset by the client. */
	rst2.tcp_flags = TH_RST_;
	f = track(t, &syn2, &dir, &rec);
	assert_int_equal(f->state, FLOW_TCP_NEW);
	track(t, &rst2, &dir, &rec);
	assert_int_equal(f->state, FLOW_CLOSED);

	/* Half-closed, then reset. */
	struct packet syn3 = syn_from(50002, 1);
	struct packet fin3 = syn3;
	struct packet rst3 = reverse(&syn3, TH_RST_, SEC);
	fin3.tcp_flags = TH_FIN_ | TH_ACK_;
	f = track(t, &syn3, &dir, &rec);
	track(t, &fin3, &dir, &rec);
	assert_int_equal(f->state, FLOW_TCP_CLOSING);
	track(t, &rst3, &dir, &rec);
	assert_int_equal(f->state, FLOW_CLOSED);
	assert_int_equal(t->stats.active, 3);
	flow_table_free(t);
}

static void test_udp_states(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(16, NULL, NULL);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;
	struct packet q = pkt4(IPPROTO_UDP_, CLIENT, 40000, SERVER, 53, 0, SEC);
	struct packet r = reverse(&q, 0, 2 * SEC);
	struct flow *f;

	f = track(t, &q, &dir, &rec);
	assert_int_equal(dir, DIR_TO_SERVER);
	assert_int_equal(f->state, FLOW_UDP_NEW);
	assert_false(f->flags & (FLOW_F_SYN | FLOW_F_MIDSTREAM));
	track(t, &q, &dir, &rec);
	assert_int_equal(f->state, FLOW_UDP_NEW);
	assert_ptr_equal(track(t, &r, &dir, &rec), f);
	assert_int_equal(dir, DIR_TO_CLIENT);
	assert_int_equal(f->state, FLOW_UDP_EST);
	track(t, &q, &dir, &rec);
	assert_int_equal(f->state, FLOW_UDP_EST);
	assert_int_equal(f->pkts[DIR_TO_SERVER], 3);
	assert_int_equal(f->pkts[DIR_TO_CLIENT], 1);
	flow_table_free(t);
}

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(flow_state_name(FLOW_CLOSED), "closed");
	assert_string_equal(flow_state_name(FLOW_TCP_NEW), "tcp_new");
	assert_string_equal(flow_state_name(FLOW_UDP_NEW), "udp_new");
	assert_string_equal(flow_state_name(FLOW_TCP_CLOSING), "tcp_closing");
	assert_string_equal(flow_state_name(FLOW_UDP_EST), "udp_established");
	assert_string_equal(flow_state_name(FLOW_TCP_EST), "tcp_established");
	assert_string_equal(flow_state_name(FLOW_STATE_COUNT), "invalid");
}

/* --- timeouts ------------------------------------------------------- */

/* One flow in each state, all last active at second 100; returns them by
 * state. Timeouts are 1..6 s in state order. */
static const struct flow_timeouts small_timeouts = { .sec = {
	[FLOW_CLOSED] = 1,
	[FLOW_TCP_NEW] = 2,
	[FLOW_UDP_NEW] = 3,
	[FLOW_TCP_CLOSING] = 4,
	[FLOW_UDP_EST] = 5,
	[FLOW_TCP_EST] = 6,
} };

static void one_of_each(struct flow_table *t, struct recorder *rec, uint64_t ids[FLOW_STATE_COUNT])
{
	const uint64_t at = 100 * SEC;
	enum flow_dir dir;
	struct flow *f;

	/* CLOSED: SYN then RST */
	struct packet a = syn_from(1001, 100);
	f = track(t, &a, &dir, rec);
	a.tcp_flags = TH_RST_;
	track(t, &a, &dir, rec);
	assert_int_equal(f->state, FLOW_CLOSED);
	ids[FLOW_CLOSED] = f->id;
	/* TCP_NEW: SYN only */
	struct packet b = syn_from(1002, 100);
	f = track(t, &b, &dir, rec);
	assert_int_equal(f->state, FLOW_TCP_NEW);
	ids[FLOW_TCP_NEW] = f->id;
	/* UDP_NEW: one datagram */
	struct packet c = pkt4(IPPROTO_UDP_, CLIENT, 1003, SERVER, 53, 0, at);
	f = track(t, &c, &dir, rec);
	assert_int_equal(f->state, FLOW_UDP_NEW);
	ids[FLOW_UDP_NEW] = f->id;
	/* TCP_CLOSING: SYN, SYN-ACK, FIN */
	struct packet d = syn_from(1004, 100);
	struct packet d2 = reverse(&d, TH_SYN_ | TH_ACK_, at);
	struct packet d3 = reverse(&d, TH_FIN_ | TH_ACK_, at);
	f = track(t, &d, &dir, rec);
	track(t, &d2, &dir, rec);
	track(t, &d3, &dir, rec);
	assert_int_equal(f->state, FLOW_TCP_CLOSING);
	ids[FLOW_TCP_CLOSING] = f->id;
	/* UDP_EST: query and answer */
	struct packet e = pkt4(IPPROTO_UDP_, CLIENT, 1005, SERVER, 53, 0, at);
	struct packet e2 = reverse(&e, 0, at);
	f = track(t, &e, &dir, rec);
	track(t, &e2, &dir, rec);
	assert_int_equal(f->state, FLOW_UDP_EST);
	ids[FLOW_UDP_EST] = f->id;
	/* TCP_EST: SYN, SYN-ACK */
	struct packet g = syn_from(1006, 100);
	struct packet g2 = reverse(&g, TH_SYN_ | TH_ACK_, at);
	f = track(t, &g, &dir, rec);
	track(t, &g2, &dir, rec);
	assert_int_equal(f->state, FLOW_TCP_EST);
	ids[FLOW_TCP_EST] = f->id;
}

static void test_timeouts_per_state(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(16, &small_timeouts, NULL);
	struct recorder rec = { .n = 0 };
	uint64_t ids[FLOW_STATE_COUNT];

	one_of_each(t, &rec, ids);
	assert_int_equal(t->stats.active, 6);
	/* ids in creation order: closed 1, tcp_new 2, ... tcp_est 6 */
	for (int s = 0; s < FLOW_STATE_COUNT; s++)
		assert_int_equal(ids[s], (uint64_t)s + 1);

	for (int s = 0; s < FLOW_STATE_COUNT; s++) {
		/* timeout of state s is s + 1 seconds, last activity at 100 s */
		uint64_t due = (100 + (uint64_t)s + 1) * SEC;

		/* One microsecond early: nothing new goes. */
		flow_expire(t, due - 1, on_release, &rec);
		assert_int_equal(rec.n, (size_t)s);
		/* Exactly at last + timeout: this state's flow goes, alone. */
		flow_expire(t, due, on_release, &rec);
		assert_int_equal(rec.n, (size_t)s + 1);
		assert_released(&rec, (size_t)s, ids[s], FLOW_END_TIMEOUT);
		assert_int_equal(rec.r[s].state, s);
		assert_int_equal(t->stats.active, FLOW_STATE_COUNT - s - 1);
		assert_int_equal(t->stats.expired, (uint64_t)s + 1);
	}
	assert_int_equal(t->stats.evicted, 0);
	flow_table_free(t);
}

static void test_timeout_all_at_once(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(16, &small_timeouts, NULL);
	struct recorder rec = { .n = 0 };
	uint64_t ids[FLOW_STATE_COUNT];

	one_of_each(t, &rec, ids);
	/* At 104 s: closed (1 s), tcp_new (2), udp_new (3), closing (4). */
	flow_expire(t, 104 * SEC, on_release, &rec);
	assert_int_equal(rec.n, 4);
	for (size_t k = 0; k < 4; k++)
		assert_released(&rec, k, k + 1, FLOW_END_TIMEOUT);
	assert_int_equal(t->stats.active, 2);
	/* Far in the future: the rest. */
	flow_expire(t, 1000 * SEC, on_release, &rec);
	assert_int_equal(rec.n, 6);
	assert_released(&rec, 4, 5, FLOW_END_TIMEOUT);
	assert_released(&rec, 5, 6, FLOW_END_TIMEOUT);
	assert_int_equal(t->stats.active, 0);
	flow_table_free(t);
}

static void test_timeout_activity_extends(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(16, &small_timeouts, NULL);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;
	/* Three SYN-only flows (timeout 2 s) at 10, 11 and 12 s. */
	struct packet a = syn_from(1, 10), b = syn_from(2, 11), c = syn_from(3, 12);

	struct flow *fa = track(t, &a, &dir, &rec);

	track(t, &b, &dir, &rec);
	track(t, &c, &dir, &rec);
	assert_int_equal(fa->last_us, 10 * SEC);
	/* a retransmits at 12.5 s: now last active after c */
	a.ts_us = 12 * SEC + SEC / 2;
	assert_ptr_equal(track(t, &a, &dir, &rec), fa);
	assert_int_equal(fa->first_us, 10 * SEC);
	assert_int_equal(fa->last_us, 12 * SEC + SEC / 2);
	/* An older timestamp does not move last_us back. */
	a.ts_us = 5 * SEC;
	assert_ptr_equal(track(t, &a, &dir, &rec), fa);
	assert_int_equal(fa->last_us, 12 * SEC + SEC / 2);

	flow_expire(t, 13 * SEC, on_release, &rec);
	assert_int_equal(rec.n, 1);
	assert_released(&rec, 0, 2, FLOW_END_TIMEOUT); /* b: 11 + 2 */
	flow_expire(t, 14 * SEC, on_release, &rec);
	assert_int_equal(rec.n, 2);
	assert_released(&rec, 1, 3, FLOW_END_TIMEOUT); /* c: 12 + 2 */
	flow_expire(t, 14 * SEC + SEC / 2 - 1, on_release, &rec);
	assert_int_equal(rec.n, 2);
	flow_expire(t, 14 * SEC + SEC / 2, on_release, &rec);
	assert_int_equal(rec.n, 3);
	assert_released(&rec, 2, 1, FLOW_END_TIMEOUT); /* a: 12.5 + 2 */
	flow_table_free(t);
}

static void test_timeout_follows_state_change(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(16, &small_timeouts, NULL);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;
	struct packet syn = syn_from(7, 50);
	struct packet synack = reverse(&syn, TH_SYN_ | TH_ACK_, 50 * SEC);

	track(t, &syn, &dir, &rec);
	track(t, &synack, &dir, &rec);
	/* Established now: the 2 s tcp_new timeout no longer applies, 6 s does. */
	flow_expire(t, 52 * SEC, on_release, &rec);
	flow_expire(t, 56 * SEC - 1, on_release, &rec);
	assert_int_equal(rec.n, 0);
	flow_expire(t, 56 * SEC, on_release, &rec);
	assert_int_equal(rec.n, 1);
	assert_released(&rec, 0, 1, FLOW_END_TIMEOUT);
	flow_table_free(t);
}

static void test_default_timeouts(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(4, NULL, NULL);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;
	struct packet syn = syn_from(9, 0);

	assert_memory_equal(&t->timeouts, &flow_default_timeouts, sizeof(t->timeouts));
	/* tcp_new defaults to 30 s */
	track(t, &syn, &dir, &rec);
	flow_expire(t, 30 * SEC - 1, on_release, &rec);
	assert_int_equal(rec.n, 0);
	flow_expire(t, 30 * SEC, on_release, &rec);
	assert_int_equal(rec.n, 1);
	/* No callback is fine too. */
	track(t, &syn, &dir, &rec);
	flow_expire(t, 1000 * SEC, NULL, NULL);
	assert_int_equal(t->stats.active, 0);
	assert_int_equal(t->stats.expired, 2);
	flow_table_free(t);
}

/* --- capacity and eviction ------------------------------------------ */

static void test_capacity_bound(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(4, NULL, NULL);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;

	for (uint16_t i = 0; i < 10; i++) {
		struct packet p = syn_from((uint16_t)(1000 + i), i);
		struct flow *f = track(t, &p, &dir, &rec);

		assert_int_equal(f->id, i + 1);
		assert_true(t->stats.active <= 4);
		assert_int_equal(t->stats.active, i < 4 ? i + 1 : 4);
	}
	/* The six oldest went, oldest first. */
	assert_int_equal(rec.n, 6);
	for (size_t k = 0; k < 6; k++) {
		assert_released(&rec, k, k + 1, FLOW_END_EVICTED);
		assert_int_equal(rec.r[k].port0, 1000 + k);
	}
	assert_int_equal(t->stats.evicted, 6);
	assert_int_equal(t->stats.expired, 0);
	assert_int_equal(t->stats.created, 10);
	assert_int_equal(t->stats.high_water, 4);

	/* The four newest are still there and found again. */
	for (uint16_t i = 6; i < 10; i++) {
		struct packet p = syn_from((uint16_t)(1000 + i), 20);

		assert_int_equal(track(t, &p, &dir, &rec)->id, i + 1);
	}
	assert_int_equal(rec.n, 6);
	flow_table_free(t);
}

static void test_eviction_preference(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(4, NULL, NULL);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;
	struct packet p1 = syn_from(1, 1), p2 = syn_from(2, 2), p3 = syn_from(3, 3),
	              p4 = syn_from(4, 4), p5 = syn_from(5, 5), p6 = syn_from(6, 6),
	              p7 = syn_from(7, 9);
	struct packet r;

	/* 1: established */
	track(t, &p1, &dir, &rec);
	r = reverse(&p1, TH_SYN_ | TH_ACK_, 1 * SEC);
	track(t, &r, &dir, &rec);
	/* 2: new (never answered) */
	track(t, &p2, &dir, &rec);
	/* 3: closed by a reset */
	track(t, &p3, &dir, &rec);
	r = reverse(&p3, TH_RST_ | TH_ACK_, 3 * SEC);
	track(t, &r, &dir, &rec);
	/* 4: established */
	track(t, &p4, &dir, &rec);
	r = reverse(&p4, TH_SYN_ | TH_ACK_, 4 * SEC);
	track(t, &r, &dir, &rec);
	assert_int_equal(rec.n, 0);

	/* Full: the closed flow goes first, though it is not the oldest. */
	track(t, &p5, &dir, &rec);
	assert_int_equal(rec.n, 1);
	assert_released(&rec, 0, 3, FLOW_END_EVICTED);
	assert_int_equal(rec.r[0].state, FLOW_CLOSED);

	/* Then the oldest unanswered one (2, not 5), before any established. */
	track(t, &p6, &dir, &rec);
	assert_int_equal(rec.n, 2);
	assert_released(&rec, 1, 2, FLOW_END_EVICTED);
	assert_int_equal(rec.r[1].state, FLOW_TCP_NEW);

	/* Answer 5 and 6; touch 1 so that 4 is the least recently active. */
	r = reverse(&p5, TH_SYN_ | TH_ACK_, 7 * SEC);
	track(t, &r, &dir, &rec);
	r = reverse(&p6, TH_SYN_ | TH_ACK_, 7 * SEC);
	track(t, &r, &dir, &rec);
	r = reverse(&p1, TH_ACK_, 8 * SEC);
	track(t, &r, &dir, &rec);

	/* Only established flows left: the least recently active goes. */
	track(t, &p7, &dir, &rec);
	assert_int_equal(rec.n, 3);
	assert_released(&rec, 2, 4, FLOW_END_EVICTED);
	assert_int_equal(rec.r[2].state, FLOW_TCP_EST);
	assert_int_equal(t->stats.evicted, 3);
	assert_int_equal(t->stats.active, 4);
	flow_table_free(t);
}

static void test_eviction_udp_before_established(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(2, NULL, NULL);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;
	struct packet tcp = syn_from(1, 1);
	struct packet tcp_r = reverse(&tcp, TH_SYN_ | TH_ACK_, 1 * SEC);
	struct packet udp = pkt4(IPPROTO_UDP_, CLIENT, 2, SERVER, 53, 0, 2 * SEC);
	struct packet udp3 = pkt4(IPPROTO_UDP_, CLIENT, 3, SERVER, 53, 0, 3 * SEC);

	track(t, &tcp, &dir, &rec);
	track(t, &tcp_r, &dir, &rec);
	track(t, &udp, &dir, &rec);
	/* Full with an older tcp_established and a newer udp_new. */
	track(t, &udp3, &dir, &rec);
	assert_int_equal(rec.n, 1);
	assert_released(&rec, 0, 2, FLOW_END_EVICTED);
	assert_int_equal(rec.r[0].state, FLOW_UDP_NEW);
	flow_table_free(t);
}

/* --- port reuse ----------------------------------------------------- */

static void test_syn_on_closed_reuses(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(16, NULL, NULL);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;
	struct packet syn = syn_from(50000, 1);
	struct packet rst = reverse(&syn, TH_RST_ | TH_ACK_, 1 * SEC);
	struct packet ack = syn;
	struct flow *f;

	ack.tcp_flags = TH_ACK_;
	f = track(t, &syn, &dir, &rec);
	assert_int_equal(f->id, 1);
	track(t, &rst, &dir, &rec);
	assert_int_equal(f->state, FLOW_CLOSED);
	/* A late ACK stays in the closed flow. */
	assert_int_equal(track(t, &ack, &dir, &rec)->id, 1);
	assert_int_equal(rec.n, 0);

	/* A new SYN on the same tuple: the old flow goes, a new one starts. */
	syn.ts_us = 2 * SEC;
	f = track(t, &syn, &dir, &rec);
	assert_int_equal(rec.n, 1);
	assert_released(&rec, 0, 1, FLOW_END_REUSED);
	assert_int_equal(f->id, 2);
	assert_int_equal(f->state, FLOW_TCP_NEW);
	assert_int_equal(f->pkts[DIR_TO_SERVER], 1);
	assert_int_equal(f->pkts[DIR_TO_CLIENT], 0);
	assert_int_equal(f->first_us, 2 * SEC);
	assert_int_equal(dir, DIR_TO_SERVER);
	assert_int_equal(t->stats.active, 1);
	assert_int_equal(t->stats.created, 2);
	assert_int_equal(t->stats.evicted, 0);
	assert_int_equal(t->stats.expired, 0);

	/* A SYN on a flow that is not closed is a retransmission. */
	assert_int_equal(track(t, &syn, &dir, &rec)->id, 2);
	assert_int_equal(rec.n, 1);
	flow_table_free(t);
}

static void test_syn_on_closed_reversed(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(16, NULL, NULL);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;
	struct packet syn = syn_from(50000, 1);
	struct packet fin_c = syn, fin_s = reverse(&syn, TH_FIN_ | TH_ACK_, SEC);
	struct packet rsyn = reverse(&syn, TH_SYN_, 2 * SEC);
	struct flow *f;

	fin_c.tcp_flags = TH_FIN_ | TH_ACK_;
	track(t, &syn, &dir, &rec);
	track(t, &fin_c, &dir, &rec);
	f = track(t, &fin_s, &dir, &rec);
	assert_int_equal(f->state, FLOW_CLOSED);
	/* The old server now opens to the old client's port. */
	f = track(t, &rsyn, &dir, &rec);
	assert_int_equal(rec.n, 1);
	assert_released(&rec, 0, 1, FLOW_END_REUSED);
	assert_int_equal(f->id, 2);
	assert_int_equal(dir, DIR_TO_SERVER);
	assert_int_equal(f->key.port[0], 443);
	assert_int_equal(f->key.port[1], 50000);
	flow_table_free(t);
}

/* --- flush ---------------------------------------------------------- */

static void test_flush_in_id_order(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(16, NULL, NULL);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;
	struct packet p[6];

	/* Six flows in different states, touched out of id order. */
	for (uint16_t i = 0; i < 6; i++) {
		p[i] = i % 2 ? pkt4(IPPROTO_UDP_, CLIENT, (uint16_t)(100 + i), SERVER, 53, 0, SEC)
		             : syn_from((uint16_t)(100 + i), 1);
		track(t, &p[i], &dir, &rec);
	}
	struct packet r = reverse(&p[0], TH_SYN_ | TH_ACK_, 5 * SEC);
	track(t, &r, &dir, &rec); /* 1: tcp_established */
	r = reverse(&p[3], 0, 4 * SEC);
	track(t, &r, &dir, &rec); /* 4: udp_established */
	r = reverse(&p[2], TH_RST_, 3 * SEC);
	track(t, &r, &dir, &rec); /* 3: closed */
	p[4].ts_us = 6 * SEC;
	track(t, &p[4], &dir, &rec); /* 5: tcp_new, touched last */

	flow_flush(t, on_release, &rec);
	assert_int_equal(rec.n, 6);
	for (size_t k = 0; k < 6; k++)
		assert_released(&rec, k, k + 1, FLOW_END_FLUSH);
	assert_int_equal(t->stats.active, 0);
	assert_int_equal(t->stats.expired, 0);
	assert_int_equal(t->stats.evicted, 0);

	/* The table works after a flush, and ids go on. */
	flow_flush(t, on_release, &rec);
	assert_int_equal(rec.n, 6);
	assert_int_equal(track(t, &p[0], &dir, &rec)->id, 7);
	assert_int_equal(t->stats.active, 1);
	flow_table_free(t);
}

static void test_flush_after_eviction_reuse(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(3, NULL, NULL);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;

	/* Slots are recycled, so slot order differs from id order. */
	for (uint16_t i = 0; i < 5; i++) {
		struct packet q = syn_from((uint16_t)(10 + i), i);

		track(t, &q, &dir, &rec);
	}
	assert_int_equal(rec.n, 2);
	rec.n = 0;
	flow_flush(t, on_release, &rec);
	assert_int_equal(rec.n, 3);
	assert_released(&rec, 0, 3, FLOW_END_FLUSH);
	assert_released(&rec, 1, 4, FLOW_END_FLUSH);
	assert_released(&rec, 2, 5, FLOW_END_FLUSH);
	flow_table_free(t);
}

/* --- a large table -------------------------------------------------- */

static void test_large_table(void **state)
{
	(void)state;
	static const uint8_t key[16] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
		                         0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f };
	const uint32_t n = 100000;
	struct flow_table *t = flow_table_new(n, NULL, key);
	struct recorder rec = { .n = 0 };
	enum flow_dir dir;

	assert_non_null(t);
	assert_int_equal(t->nbuckets, 131072);
	for (uint32_t i = 0; i < n; i++) {
		/* 10.x.y.z:port -> 192.0.2.1:443, 100000 distinct 5-tuples */
		struct packet p = pkt4(IPPROTO_TCP_, 0x0a000000u | (i >> 4), (uint16_t)(1024 + (i & 15)),
		                       SERVER, 443, TH_SYN_, SEC);
		struct flow *f = flow_track(t, &p, &dir, on_release, &rec);

		if (f->id != (uint64_t)i + 1)
			fail_msg("flow %u got id %llu", i, (unsigned long long)f->id);
	}
	assert_int_equal(t->stats.active, n);
	assert_int_equal(t->stats.created, n);
	assert_int_equal(t->stats.high_water, n);
	assert_int_equal(rec.n, 0);
	/* Every one is found again, from the other side. */
	for (uint32_t i = 0; i < n; i++) {
		struct packet p = pkt4(IPPROTO_TCP_, SERVER, 443, 0x0a000000u | (i >> 4),
		                       (uint16_t)(1024 + (i & 15)), TH_SYN_ | TH_ACK_, 2 * SEC);
		struct flow *f = flow_track(t, &p, &dir, on_release, &rec);

		if (f->id != (uint64_t)i + 1 || dir != DIR_TO_CLIENT || f->state != FLOW_TCP_EST)
			fail_msg("flow %u: id %llu dir %d state %d", i, (unsigned long long)f->id,
			         (int)dir, (int)f->state);
	}
	assert_int_equal(t->stats.active, n);
	assert_int_equal(t->stats.created, n);
	assert_int_equal(t->stats.evicted, 0);
	assert_int_equal(rec.n, 0);
	flow_expire(t, 2 * SEC + 600 * SEC, NULL, NULL);
	assert_int_equal(t->stats.active, 0);
	assert_int_equal(t->stats.expired, n);
	flow_table_free(t);
}

/* The flow table's hash: the vectors of the SipHash paper (appendix A and
 * the reference vectors), key 00 01 .. 0f, message 00 01 .. of each length,
 * and every length 0-63 at every offset 0-7 the same as at offset 0 (the
 * loads must not care about alignment). */
static void test_siphash_vectors(void **state)
{
	uint8_t key[16], msg[72], shifted[72];

	(void)state;
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	assert_true(siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
	assert_true(siphash24(key, msg, 1) == 0x74f839c593dc67fdULL);
	assert_true(siphash24(key, msg, 15) == 0xa129ca6149be45e5ULL);
	for (size_t len = 0; len < 64; len++) {
		for (size_t off = 1; off < 8; off++) {
			memcpy(shifted + off, msg, len);
			assert_true(siphash24(key, shifted + off, len) == siphash24(key, msg, len));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_vectors),
		cmocka_unit_test(test_new_zero_capacity),
		cmocka_unit_test(test_new_empty),
		cmocka_unit_test(test_both_directions_one_flow),
		cmocka_unit_test(test_synack_first),
		cmocka_unit_test(test_synack_first_state),
		cmocka_unit_test(test_midstream_first_packet_is_client),
		cmocka_unit_test(test_vlan_in_key),
		cmocka_unit_test(test_proto_family_in_key),
		cmocka_unit_test(test_same_address_both_ends),
		cmocka_unit_test(test_ids_increase_from_one),
		cmocka_unit_test(test_tcp_states_fin),
		cmocka_unit_test(test_tcp_fin_from_server_first),
		cmocka_unit_test(test_tcp_rst),
		cmocka_unit_test(test_udp_states),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_timeouts_per_state),
		cmocka_unit_test(test_timeout_all_at_once),
		cmocka_unit_test(test_timeout_activity_extends),
		cmocka_unit_test(test_timeout_follows_state_change),
		cmocka_unit_test(test_default_timeouts),
		cmocka_unit_test(test_capacity_bound),
		cmocka_unit_test(test_eviction_preference),
		cmocka_unit_test(test_eviction_udp_before_established),
		cmocka_unit_test(test_syn_on_closed_reuses),
		cmocka_unit_test(test_syn_on_closed_reversed),
		cmocka_unit_test(test_flush_in_id_order),
		cmocka_unit_test(test_flush_after_eviction_reuse),
		cmocka_unit_test(test_large_table),
	};

	return cmocka_run_group_tests_name("flow", tests, NULL, NULL);
}
