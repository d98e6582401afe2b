/*
 * rules_eval.c: the verdict for a flow's facts, and loading a directory.
 *
 * Evaluation order: packs in the order they were loaded, rules in the order
 * they are written; the first rule that matches decides. No priorities: the
 * order a reviewer reads is the order that runs. No match: the first
 * 'default' a pack declared, else inspect. A rule matches when all its
 * conditions hold; the CONNECT conditions (connect, connect-port, tunnel)
 * only hold on a CONNECT flow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissect/dissect.h"
#include "rules/rules.h"

static const char *const action_names[ACTION_COUNT] = { "none", "bypass", "inspect", "drop" };

static const char *const reason_names[REASON_COUNT] = {
	"classified", "unrecognized", "budget_exhausted", "flow_end",
	"evicted",    "capture_end",  "no_memory",
};

const char *const rules_tunnel_words[TUNNEL_COUNT] = {
	[TUNNEL_NONE] = "none",	      [TUNNEL_TURN] = "turn", [TUNNEL_TLS] = "tls",
	[TUNNEL_UNKNOWN] = "unknown", [TUNNEL_HTTP] = "http", [TUNNEL_WEBSOCKET] = "websocket",
};
const char *const rules_push_words[RULES_PUSH_WORDS] = { [PUSH_APNS] = "apns", [PUSH_FCM] = "fcm" };

size_t rule_set_size(const struct rule_set *s)
{
	switch (s->kind) {
	case SET_DOMAINS:
		return s->u.dom->count;
	case SET_PATTERNS:
		return s->u.pat->n;
	case SET_ADDRESSES:
		return s->u.addr->ncidrs;
	default:
		return s->u.port->nwritten;
	}
}

const char *rule_action_name(enum rule_action a)
{
	return (unsigned)a < ACTION_COUNT ? action_names[a] : "invalid";
}

const char *verdict_reason_name(enum verdict_reason r)
{
	return (unsigned)r < REASON_COUNT ? reason_names[r] : "invalid";
}

/* A name against a domains or patterns set. */
static bool name_in(const struct rule_set *s, const char *name, size_t len)
{
	if (!len)
		return false;
	if (s->kind == SET_DOMAINS)
		return domain_set_match(s->u.dom, name, len);
	if (s->kind == SET_PATTERNS)
		return pattern_set_match(s->u.pat, name, len);
	return false;
}

/* The CONNECT host: by name, or as an IP literal against an address set. */
static bool connect_in(const struct rule_set *s, const struct dpix_facts *f)
{
	uint8_t addr[16], plen, family;
	const char *why;

	if (s->kind != SET_ADDRESSES)
		return name_in(s, f->connect_host, f->connect_host_len);
	return f->connect_host_len &&
	       addr_parse(f->connect_host, addr, &plen, &family, &why) == 0 && plen == 128 &&
	       addr_set_match(s->u.addr, addr);
}

static bool ja4_in(const struct rule *r, const struct dpix_facts *f)
{
	for (size_t i = 0; f->ja4[0] && i < r->nja4; i++)
		if (!strcmp(r->ja4[i], f->ja4))
			return true;
	return false;
}

static bool name_holds(const struct rule *r, const struct dpix_facts *f)
{
	return (f->app == APP_CONNECT && name_in(r->name, f->connect_host, f->connect_host_len)) ||
	       name_in(r->name, f->sni, f->sni_len);
}

static bool connect_port_holds(const struct rule *r, const struct dpix_facts *f)
{
	return f->app == APP_CONNECT && f->connect_host_len &&
	       port_set_match(r->connect_port->u.port, f->connect_port);
}

static bool websocket_holds(const struct dpix_facts *f)
{
	return f->app == APP_WEBSOCKET || f->tunnel == TUNNEL_WEBSOCKET;
}

/*
 * The conditions of r that do not hold for in, in the order a reader sees
 * them. With early, stop at the first: rules_eval asks every candidate
 * that way (rule_matches); the tools that say why a rule did not match ask
 * them all (rule_mismatch). One list, compiled once for each.
 */
static inline __attribute__((always_inline)) uint32_t
failing(const struct rule *r, const struct rules_input *in, bool early)
{
	const struct dpix_facts *f = in->facts;
	uint32_t c = r->conds, bad = 0;
	bool connect = f->app == APP_CONNECT;

#define FAILS(cond, holds)                      \
	do {                                    \
		if ((c & (cond)) && !(holds)) { \
			bad |= (cond);          \
			if (early)              \
				return bad;     \
		}                               \
	} while (0)
	FAILS(COND_TRANSPORT, in->proto == r->transport);
	FAILS(COND_APP, f->app < 32 && (r->apps & (1u << f->app)));
	FAILS(COND_SNI, name_in(r->sni, f->sni, f->sni_len));
	FAILS(COND_CONNECT, connect && connect_in(r->connect, f));
	FAILS(COND_NAME, name_holds(r, f));
	FAILS(COND_HTTP_HOST, name_in(r->http_host, f->http_host, f->http_host_len));
	FAILS(COND_CONNECT_PORT, connect_port_holds(r, f));
	FAILS(COND_DST, addr_set_match(r->dst->u.addr, in->dst));
	FAILS(COND_SRC, addr_set_match(r->src->u.addr, in->src));
	FAILS(COND_DPORT, port_set_match(r->dport->u.port, in->dport));
	FAILS(COND_TUNNEL, connect && (r->tunnels & (1u << f->tunnel)));
	FAILS(COND_WEBSOCKET, websocket_holds(f));
	FAILS(COND_FRONTING, f->flags & FACT_FRONTING);
	FAILS(COND_PUSH, f->push && (r->push & (1u << f->push)));
	FAILS(COND_JA4, ja4_in(r, f));
#undef FAILS
	return bad;
}

bool rule_matches(const struct rule *r, const struct rules_input *in)
{
	return !failing(r, in, true);
}

uint32_t rule_mismatch(const struct rule *r, const struct rules_input *in)
{
	return failing(r, in, false);
}

/* The keywords of the language, bit by bit from COND_TRANSPORT up. */
static const char *const cond_names[] = {
	"transport", "app",   "sni",	"connect",   "name",	 "http-host", "connect-port", "dst",
	"src",	     "dport", "tunnel", "websocket", "fronting", "push",      "ja4",
};

const char *cond_name(uint32_t bit)
{
	for (size_t i = 0; i < sizeof(cond_names) / sizeof(cond_names[0]); i++)
		if (bit == 1u << i)
			return cond_names[i];
	return "invalid";
}

int ruleset_seal(struct ruleset *rs)
{
	rules_index_free(rs->index);
	rs->index = rules_index_build(rs);
	return rs->index ? 0 : -1;
}

void rules_eval(const struct ruleset *rs, const struct rules_input *in, struct verdict *v)
{
	v->action = rs->default_action ? rs->default_action : ACTION_INSPECT;
	v->rule = NULL;
	if (rs->index) {
		v->rule = rules_index_eval(rs->index, in);
		if (v->rule)
			v->action = v->rule->action;
		return;
	}
	for (size_t p = 0; p < rs->npacks; p++) {
		const struct rule_pack *pk = rs->packs[p];

		for (size_t i = 0; i < pk->nrules; i++) {
			if (rule_matches(&pk->rules[i], in)) {
				v->action = pk->rules[i].action;
				v->rule = &pk->rules[i];
				return;
			}
		}
	}
}
