/*
 * cmd_rules_explain.c: `dpix rules explain [--rules PACK]... FLOW FLAGS`,
 * which rule decides a flow described on the command line, and which
 * rules nearly did. The flags fill the same struct rules_input the
 * pipeline builds from a flow's facts; the packs are loaded and sealed as
 * `dpix replay` loads them, and the verdict comes from rules_eval, so the
 * answer is replay's. Near misses are the rules failing exactly one
 * condition (rule_mismatch), in evaluation order.
 *
 * What a flag implies, when the flags do not say otherwise: --connect
 * makes the flow a CONNECT (app connect); --sni, --http-host and
 * --websocket make it tls, http or websocket, or, with --connect, set the
 * tunnel to tls, http or websocket; --sni with --connect naming another
 * host sets fronting, as the dissector does; --transport is tcp, udp for
 * app dtls. Exit status: 0, 1 when the packs cannot be loaded, 2 for a bad
 * flag.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd_rules.h"
#include "dissect/dissect.h"
#include "rules/rules.h"

#define NEAR_MAX 10 /* near misses shown */

static const char *const tunnel_words[TUNNEL_COUNT] = {
	[TUNNEL_NONE] = "none",	      [TUNNEL_TURN] = "turn", [TUNNEL_TLS] = "tls",
	[TUNNEL_UNKNOWN] = "unknown", [TUNNEL_HTTP] = "http", [TUNNEL_WEBSOCKET] = "websocket",
};

static const char *const push_words[] = {
	[PUSH_NONE] = "none", [PUSH_APNS] = "apns", [PUSH_FCM] = "fcm"
};

/* The flow as the flags describe it, before the implications. */
struct flow_spec {
	struct dpix_facts f;
	struct rules_input in;
	int app;    /* -1: not given */
	int tunnel; /* -1: not given */
	int proto;  /* 0: not given */
	bool has_dst, has_src, connect, websocket;
};

static void explain_usage(FILE *out)
{
	fprintf(out,
		"usage: dpix rules explain [--rules PACK]... [--transport tcp|udp] [--app NAME]\n"
		"         [--sni NAME] [--connect HOST:PORT] [--http-host NAME] [--dst IP]\n"
		"         [--src IP] [--dport N] [--tunnel KIND] [--websocket] [--fronting]\n"
		"         [--push apns|fcm] [--ja4 FP]\n");
}

static int bad(const char *flag, const char *value, const char *why)
{
	fprintf(stderr, "dpix rules explain: %s '%s': %s\n", flag, value, why);
	return -1;
}

static int word_index(const char *const *words, int n, const char *w)
{
	for (int i = 0; i < n; i++)
		if (words[i] && !strcmp(words[i], w))
			return i;
	return -1;
}

static int parse_port(const char *flag, const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end || errno || v < 1 || v > 65535)
		return bad(flag, s, "expected a port, 1 to 65535");
	*port = (uint16_t)v;
	return 0;
}

/* A name into a facts field: at most 253 characters, printable. */
static int set_name(const char *flag, const char *s, char *dst, uint8_t *len)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return bad(flag, s, "expected a name of 1 to 253 characters");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return bad(flag, s, "a name has no blank or control character");
	memcpy(dst, s, n + 1);
	*len = (uint8_t)n;
	return 0;
}

static int set_addr(const char *flag, const char *s, uint8_t addr[16])
{
	uint8_t plen, family;
	const char *why;

	if (addr_parse(s, addr, &plen, &family, &why) < 0)
		return bad(flag, s, why);
	if (plen != 128)
		return bad(flag, s, "expected an address, not a prefix");
	return 0;
}

/* HOST:PORT, or [IPV6]:PORT; the host is kept without its brackets. */
static int set_connect(struct flow_spec *sp, const char *s)
{
	char host[HOST_MAX + 1];
	const char *colon, *h = s;
	size_t n;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return bad("--connect", s, "expected [IPV6]:PORT");
		h = s + 1;
		n = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return bad("--connect", s,
				   "expected HOST:PORT (an IPv6 literal in brackets)");
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= sizeof(host))
		return bad("--connect", s, "expected a host of 1 to 253 characters");
	memcpy(host, h, n);
	host[n] = '\0';
	if (set_name("--connect", host, sp->f.connect_host, &sp->f.connect_host_len) < 0 ||
	    parse_port("--connect", colon + 1, &sp->f.connect_port) < 0)
		return -1;
	sp->connect = true;
	return 0;
}

static int parse_app(const char *s)
{
	for (unsigned a = 0; a < APP_COUNT; a++)
		if (!strcmp(app_proto_name(a), s))
			return (int)a;
	return -1;
}

static bool same_host(const char *a, size_t an, const char *b, size_t bn)
{
	if (an && a[an - 1] == '.')
		an--;
	if (bn && b[bn - 1] == '.')
		bn--;
	return an == bn && !strncasecmp(a, b, an);
}

/* What the flags leave unsaid, as the dissectors would have it. */
static void imply(struct flow_spec *sp)
{
	struct dpix_facts *f = &sp->f;
	int tunnel = sp->tunnel;

	if (sp->connect) {
		f->app = APP_CONNECT;
		if (tunnel < 0)
			tunnel = f->sni_len	    ? TUNNEL_TLS
				 : f->http_host_len ? TUNNEL_HTTP
				 : sp->websocket    ? TUNNEL_WEBSOCKET
						    : TUNNEL_NONE;
		if (f->sni_len &&
		    !same_host(f->sni, f->sni_len, f->connect_host, f->connect_host_len))
			f->flags |= FACT_FRONTING;
	} else if (sp->app < 0) {
		f->app = sp->websocket	    ? APP_WEBSOCKET
			 : f->sni_len	    ? APP_TLS
			 : f->http_host_len ? APP_HTTP
					    : APP_UNKNOWN;
	}
	if (sp->app >= 0 && !sp->connect)
		f->app = (uint8_t)sp->app;
	f->tunnel = (uint8_t)(tunnel < 0 ? TUNNEL_NONE : tunnel);
	sp->in.proto = (uint8_t)(sp->proto	      ? sp->proto
				 : f->app == APP_DTLS ? IPPROTO_UDP
						      : IPPROTO_TCP);
}

enum {
	OPT_RULES = 'r',
	OPT_TRANSPORT = 256,
	OPT_APP,
	OPT_SNI,
	OPT_CONNECT,
	OPT_HTTP_HOST,
	OPT_DST,
	OPT_SRC,
	OPT_DPORT,
	OPT_TUNNEL,
	OPT_WEBSOCKET,
	OPT_FRONTING,
	OPT_PUSH,
	OPT_JA4,
	OPT_HELP,
};

static int parse_flag(struct flow_spec *sp, int c, const char *arg)
{
	struct dpix_facts *f = &sp->f;
	int k;

	switch (c) {
	case OPT_TRANSPORT:
		if (strcmp(arg, "tcp") && strcmp(arg, "udp"))
			return bad("--transport", arg, "expected tcp or udp");
		sp->proto = arg[0] == 't' ? IPPROTO_TCP : IPPROTO_UDP;
		return 0;
	case OPT_APP:
		if ((k = parse_app(arg)) < 0)
			return bad("--app", arg,
				   "expected connect, tls, http, websocket, stun, dtls or unknown");
		sp->app = k;
		return 0;
	case OPT_SNI:
		return set_name("--sni", arg, f->sni, &f->sni_len);
	case OPT_CONNECT:
		return set_connect(sp, arg);
	case OPT_HTTP_HOST:
		return set_name("--http-host", arg, f->http_host, &f->http_host_len);
	case OPT_DST:
		sp->has_dst = true;
		return set_addr("--dst", arg, sp->in.addr[1]);
	case OPT_SRC:
		sp->has_src = true;
		return set_addr("--src", arg, sp->in.addr[0]);
	case OPT_DPORT:
		return parse_port("--dport", arg, &sp->in.dport);
	case OPT_TUNNEL:
		if ((k = word_index(tunnel_words, TUNNEL_COUNT, arg)) < 0)
			return bad("--tunnel", arg,
				   "expected tls, turn, http, websocket, unknown or none");
		sp->tunnel = k;
		return 0;
	case OPT_WEBSOCKET:
		sp->websocket = true;
		return 0;
	case OPT_FRONTING:
		f->flags |= FACT_FRONTING;
		return 0;
	case OPT_PUSH:
		if ((k = word_index(push_words, 3, arg)) <= 0)
			return bad("--push", arg, "expected apns or fcm");
		f->push = (uint8_t)k;
		return 0;
	case OPT_JA4:
		if (!*arg || strlen(arg) > JA4_MAX)
			return bad("--ja4", arg, "expected a fingerprint of 1 to 39 characters");
		memcpy(f->ja4, arg, strlen(arg) + 1);
		return 0;
	default:
		return -1;
	}
}

static void addr_text(const uint8_t a[16], char *buf, size_t len)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (!memcmp(a, mapped, 12))
		inet_ntop(AF_INET, a + 12, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, a, buf, (socklen_t)len);
}

static void print_flow(const struct flow_spec *sp)
{
	const struct dpix_facts *f = &sp->f;
	char a[INET6_ADDRSTRLEN];

	printf("flow: %s, app %s", sp->in.proto == IPPROTO_UDP ? "udp" : "tcp",
	       app_proto_name(f->app));
	if (f->app == APP_CONNECT)
		printf(", connect %s%s%s:%u, tunnel %s", strchr(f->connect_host, ':') ? "[" : "",
		       f->connect_host, strchr(f->connect_host, ':') ? "]" : "", f->connect_port,
		       tunnel_words[f->tunnel]);
	if (f->sni_len)
		printf(", sni %s", f->sni);
	if (f->http_host_len)
		printf(", http-host %s", f->http_host);
	addr_text(sp->in.dst, a, sizeof(a));
	printf(", dst %s", sp->has_dst ? a : "(none)");
	addr_text(sp->in.src, a, sizeof(a));
	printf(", src %s", sp->has_src ? a : "(none)");
	if (sp->in.dport)
		printf(", dport %u", sp->in.dport);
	else
		printf(", dport (none)");
	if (sp->websocket)
		printf(", websocket");
	if (f->flags & FACT_FRONTING)
		printf(", fronting");
	if (f->push)
		printf(", push %s", push_words[f->push]);
	if (f->ja4[0])
		printf(", ja4 %s", f->ja4);
	printf("\n");
}

/* "dport in web" or "dport 443,8443" for a rule's condition. */
static void print_set_cond(const char *kw, const struct rule_set *s)
{
	if (s->name || s->kind != SET_PORTS) {
		printf("%s in %s", kw, s->name ? s->name : "(inline)");
		return;
	}
	printf("%s ", kw);
	for (size_t i = 0; i < s->u.port->nwritten; i++) {
		const struct port_range *p = &s->u.port->written[i];

		printf(i ? ",%u" : "%u", p->lo);
		if (p->hi != p->lo)
			printf("-%u", p->hi);
	}
}

static void print_mask(const char *const *words, int n, uint32_t mask)
{
	const char *sep = "";

	for (int i = 0; i < n; i++)
		if (words[i] && (mask & (1u << i))) {
			printf("%s%s", sep, words[i]);
			sep = ",";
		}
}

/* The failing condition as written, and what the flow offered it. */
static void print_miss(const struct rule *r, uint32_t bit, const struct flow_spec *sp)
{
	const struct dpix_facts *f = &sp->f;
	bool connect = f->app == APP_CONNECT;
	char a[INET6_ADDRSTRLEN];

	switch (bit) {
	case COND_TRANSPORT:
		printf("transport %s: the flow is %s", r->transport == IPPROTO_UDP ? "udp" : "tcp",
		       sp->in.proto == IPPROTO_UDP ? "udp" : "tcp");
		return;
	case COND_APP: {
		const char *sep = "";

		printf("app ");
		for (unsigned i = 0; i < APP_COUNT; i++)
			if (r->apps & (1u << i)) {
				printf("%s%s", sep, app_proto_name(i));
				sep = ",";
			}
		printf(": the flow is %s", app_proto_name(f->app));
		return;
	}
	case COND_SNI:
		print_set_cond("sni", r->sni);
		printf(": sni %s", f->sni_len ? f->sni : "(none)");
		return;
	case COND_CONNECT:
		print_set_cond("connect", r->connect);
		printf(": %s%s", connect ? "connect host " : "not a CONNECT",
		       connect ? f->connect_host : "");
		return;
	case COND_NAME:
		print_set_cond("name", r->name);
		printf(": sni %s, connect host %s", f->sni_len ? f->sni : "(none)",
		       connect ? f->connect_host : "(none)");
		return;
	case COND_HTTP_HOST:
		print_set_cond("http-host", r->http_host);
		printf(": http-host %s", f->http_host_len ? f->http_host : "(none)");
		return;
	case COND_CONNECT_PORT:
		print_set_cond("connect-port", r->connect_port);
		if (connect)
			printf(": connect port %u", f->connect_port);
		else
			printf(": not a CONNECT");
		return;
	case COND_DST:
		print_set_cond("dst", r->dst);
		addr_text(sp->in.dst, a, sizeof(a));
		printf(": dst %s", sp->has_dst ? a : "(none)");
		return;
	case COND_SRC:
		print_set_cond("src", r->src);
		addr_text(sp->in.src, a, sizeof(a));
		printf(": src %s", sp->has_src ? a : "(none)");
		return;
	case COND_DPORT:
		print_set_cond("dport", r->dport);
		if (sp->in.dport)
			printf(": dport %u", sp->in.dport);
		else
			printf(": dport (none)");
		return;
	case COND_TUNNEL:
		printf("tunnel ");
		print_mask(tunnel_words, TUNNEL_COUNT, r->tunnels);
		printf(connect ? ": tunnel %s" : ": not a CONNECT%s",
		       connect ? tunnel_words[f->tunnel] : "");
		return;
	case COND_WEBSOCKET:
		printf("websocket: not a WebSocket upgrade");
		return;
	case COND_FRONTING:
		printf("fronting: no fronting");
		return;
	case COND_PUSH:
		printf("push ");
		print_mask(push_words, 3, r->push);
		printf(": push %s", push_words[f->push]);
		return;
	case COND_JA4:
		printf("ja4: ja4 %s", f->ja4[0] ? f->ja4 : "(none)");
		return;
	default:
		printf("%s", cond_name(bit));
	}
}

static void print_rule_head(const struct rule *r)
{
	printf("%s (pack %s, %s:%u, %s)", r->id, r->pack->name, r->file, r->line,
	       rule_action_name(r->action));
}

static void print_decision(const struct ruleset *rs, const struct verdict *v)
{
	const struct rule *r = v->rule;

	if (!r) {
		const struct rule_pack *by = NULL;

		for (size_t p = 0; !by && p < rs->npacks; p++)
			if (rs->packs[p]->default_action != ACTION_NONE)
				by = rs->packs[p];
		printf("decided by: the default, %s: no rule of the %zu pack%s matches (",
		       rule_action_name(v->action), rs->npacks, rs->npacks == 1 ? "" : "s");
		if (by)
			printf("'default %s' of pack %s, the first to declare one)\n",
			       rule_action_name(by->default_action), by->name);
		else
			printf("no pack declares a default: inspect)\n");
		return;
	}
	printf("decided by: rule %s\n", r->id);
	printf("  pack     %s\n", r->pack->name);
	printf("  at       %s:%u\n", r->file, r->line);
	printf("  action   %s\n", rule_action_name(r->action));
	printf("  service  %s\n", r->service ? r->service : "(none)");
	printf("  msg      %s\n", r->msg ? r->msg : "(none)");
	printf("  ref      %s\n", r->ref ? r->ref : "(none)");
	if (r->timeout)
		printf("  timeout  %us\n", (unsigned)r->timeout);
	else
		printf("  timeout  (none)\n");
}

static void print_near(const struct ruleset *rs, const struct verdict *v,
		       const struct flow_spec *sp)
{
	size_t shown = 0, more = 0;

	for (size_t p = 0; p < rs->npacks; p++) {
		const struct rule_pack *pk = rs->packs[p];

		for (size_t i = 0; i < pk->nrules; i++) {
			const struct rule *r = &pk->rules[i];
			uint32_t miss = r == v->rule ? 0 : rule_mismatch(r, &sp->in);

			if (!miss || (miss & (miss - 1)))
				continue;
			if (shown == NEAR_MAX) {
				more++;
				continue;
			}
			if (!shown)
				printf("nearly matched (one condition fails), in evaluation "
				       "order:\n");
			printf("  ");
			print_rule_head(r);
			printf(": ");
			print_miss(r, miss, sp);
			printf("\n");
			shown++;
		}
	}
	if (!shown)
		printf("nearly matched: no rule fails only one condition\n");
	else if (more)
		printf("  and %zu more\n", more);
}

static int load_packs(struct ruleset *rs, char **packs, size_t n)
{
	struct rules_error err;

	for (size_t i = 0; i < n; i++) {
		if (rules_load(rs, packs[i], &err) < 0) {
			fprintf(stderr, "dpix: %s\n", err.msg);
			return -1;
		}
	}
	if (n == 0) {
		/* The rules directory `dpix replay` reads without --rules. */
		const char *dir = rules_default_dir();

		if (rules_load_dir(rs, dir, &err) < 0) {
			fprintf(stderr, "dpix: %s (give packs with --rules)\n", err.msg);
			return -1;
		}
	}
	if (ruleset_seal(rs) < 0) {
		fprintf(stderr, "dpix: out of memory indexing the rule packs\n");
		return -1;
	}
	return 0;
}

int rules_explain_cmd(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rules", required_argument, NULL, OPT_RULES },
		{ "transport", required_argument, NULL, OPT_TRANSPORT },
		{ "app", required_argument, NULL, OPT_APP },
		{ "sni", required_argument, NULL, OPT_SNI },
		{ "connect", required_argument, NULL, OPT_CONNECT },
		{ "http-host", required_argument, NULL, OPT_HTTP_HOST },
		{ "dst", required_argument, NULL, OPT_DST },
		{ "src", required_argument, NULL, OPT_SRC },
		{ "dport", required_argument, NULL, OPT_DPORT },
		{ "tunnel", required_argument, NULL, OPT_TUNNEL },
		{ "websocket", no_argument, NULL, OPT_WEBSOCKET },
		{ "fronting", no_argument, NULL, OPT_FRONTING },
		{ "push", required_argument, NULL, OPT_PUSH },
		{ "ja4", required_argument, NULL, OPT_JA4 },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	static struct flow_spec sp;
	struct ruleset rs = { 0 };
	struct verdict v;
	char **packs = calloc((size_t)argc + 1, sizeof(*packs));
	size_t npacks = 0;
	int c, rc = EXIT_USAGE;

	if (!packs) {
		fprintf(stderr, "dpix: out of memory\n");
		return 1;
	}
	memset(&sp, 0, sizeof(sp));
	sp.app = sp.tunnel = -1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":r:", longopts, NULL)) != -1) {
		if (c == OPT_RULES) {
			packs[npacks++] = optarg;
		} else if (c == OPT_HELP) {
			explain_usage(stdout);
			rc = 0;
			goto out;
		} else if (c == '?' || c == ':') {
			fprintf(stderr, "dpix rules explain: %s '%s'\n",
				c == '?' ? "unknown option" : "a value is needed after",
				argv[optind - 1]);
			goto usage;
		} else if (parse_flag(&sp, c, optarg) < 0) {
			goto usage;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dpix rules explain: unexpected argument '%s'\n", argv[optind]);
		goto usage;
	}
	if (sp.tunnel >= 0 && !sp.connect) {
		fprintf(stderr,
			"dpix rules explain: --tunnel '%s': only a CONNECT has a tunnel: "
			"give --connect too\n",
			tunnel_words[sp.tunnel]);
		goto usage;
	}
	if (sp.connect && sp.app >= 0 && sp.app != APP_CONNECT) {
		fprintf(stderr, "dpix rules explain: --app '%s': a --connect flow is app connect\n",
			app_proto_name((unsigned)sp.app));
		goto usage;
	}
	imply(&sp);
	sp.in.facts = &sp.f;
	sp.in.src = sp.in.addr[0];
	sp.in.dst = sp.in.addr[1];
	rc = 1;
	if (load_packs(&rs, packs, npacks) < 0)
		goto out;
	rules_eval(&rs, &sp.in, &v);
	print_flow(&sp);
	print_decision(&rs, &v);
	print_near(&rs, &v, &sp);
	rc = fflush(stdout) == 0 ? 0 : 1;
	goto out;
usage:
	explain_usage(stderr);
	rc = EXIT_USAGE;
out:
	ruleset_free(&rs);
	free(packs);
	return rc;
}
