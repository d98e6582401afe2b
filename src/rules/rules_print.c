/*
 * rules_print.c: a loaded pack written back in canonical form.
 *
 *   pack NAME
 *   version "TEXT"                  header lines in this order, when set;
 *   date "TEXT"                     texts always quoted (\" and \\)
 *   source "TEXT"
 *   default ACTION
 *
 *   KIND NAME {                     named sets in definition order, one
 *   	ENTRY                        entry a line, normalised, sorted,
 *   }                               each once; a list read 'from' a file
 *                                   is written out here
 *   rule ID ACTION COND... OPT...   rules in order, on one line each
 *
 * Conditions come in the order of the COND_* bits, options as service,
 * msg, ref, timeout. What is printed parses again to a pack that gives
 * the same verdicts and prints the same text (tests/rules-tools/).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dissect/dissect.h"
#include "rules/rules.h"
#include "util/sort.h"

static const char *const kind_words[SET_KIND_COUNT] = { "domains", "patterns", "addresses",
							"ports" };

const char *rules_kind_name(unsigned kind)
{
	return kind < SET_KIND_COUNT ? kind_words[kind] : "invalid";
}

int rules_print_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
	return ferror(out) ? -1 : 0;
}

static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

void rules_addr_text(const uint8_t addr[16], uint8_t plen, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN];
	unsigned bits = plen, max = 128;

	/* IPv4 as IPv4: the parser keeps it as ::ffff:a.b.c.d/96+len. */
	if (plen >= 96 && !memcmp(addr, v4_mapped, sizeof(v4_mapped))) {
		inet_ntop(AF_INET, addr + 12, a, sizeof(a));
		bits -= 96, max = 32;
	} else {
		inet_ntop(AF_INET6, addr, a, sizeof(a));
	}
	if (bits == max)
		snprintf(buf, n, "%s", a);
	else
		snprintf(buf, n, "%s/%u", a, bits);
}

void rules_port_text(uint16_t lo, uint16_t hi, char *buf, size_t n)
{
	if (lo == hi)
		snprintf(buf, n, "%u", lo);
	else
		snprintf(buf, n, "%u-%u", lo, hi);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_cidr(const void *a, const void *b)
{
	const struct addr_cidr *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, 16);

	return c ? c : (int)x->plen - (int)y->plen;
}

static int cmp_port(const void *a, const void *b)
{
	const struct port_range *x = a, *y = b;

	return x->lo != y->lo ? (int)x->lo - (int)y->lo : (int)x->hi - (int)y->hi;
}

void rules_entries_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* Entries in value order (strings, addresses, then ports by number). */
static size_t sorted_copy(const struct rule_set *s, void **out, size_t *elem)
{
	size_t n;
	const void *src;
	int (*cmp)(const void *, const void *) = cmp_str;

	switch (s->kind) {
	case SET_DOMAINS:
		n = s->u.dom->count, src = s->u.dom->written, *elem = sizeof(char *);
		break;
	case SET_PATTERNS:
		n = s->u.pat->n, src = s->u.pat->src, *elem = sizeof(char *);
		break;
	case SET_ADDRESSES:
		n = s->u.addr->ncidrs, src = s->u.addr->cidrs, *elem = sizeof(struct addr_cidr);
		cmp = cmp_cidr;
		break;
	default:
		n = s->u.port->nwritten, src = s->u.port->written,
		*elem = sizeof(struct port_range);
		cmp = cmp_port;
		break;
	}
	*out = n ? malloc(n * *elem) : NULL;
	if (n && !*out)
		return (size_t)-1;
	if (n) {
		memcpy(*out, src, n * *elem);
		sort_n(*out, n, *elem, cmp);
	}
	return n;
}

char **rules_set_entries(const struct rule_set *s, size_t *count)
{
	char **v, buf[INET6_ADDRSTRLEN + 8];
	void *sorted;
	size_t elem, n = sorted_copy(s, &sorted, &elem), k = 0;

	*count = 0;
	if (n == (size_t)-1 || !(v = calloc(n ? n : 1, sizeof(*v)))) {
		free(n == (size_t)-1 ? NULL : sorted);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *t = buf;

		if (s->kind == SET_DOMAINS || s->kind == SET_PATTERNS) {
			t = ((char **)sorted)[i];
		} else if (s->kind == SET_ADDRESSES) {
			const struct addr_cidr *c = &((struct addr_cidr *)sorted)[i];

			rules_addr_text(c->addr, c->plen, buf, sizeof(buf));
		} else {
			const struct port_range *p = &((struct port_range *)sorted)[i];

			rules_port_text(p->lo, p->hi, buf, sizeof(buf));
		}
		if (k && !strcmp(v[k - 1], t))
			continue; /* equal values sort next to each other */
		if (!(v[k] = strdup(t))) {
			rules_entries_free(v, k);
			free(sorted);
			return NULL;
		}
		k++;
	}
	free(sorted);
	*count = k;
	return v;
}

static int print_entry(FILE *out, const struct rule_set *s, const char *e)
{
	if (s->kind == SET_PATTERNS)
		return rules_print_string(out, e);
	return fputs(e, out) < 0 ? -1 : 0;
}

int rules_print_set(FILE *out, const struct rule_set *s)
{
	size_t n;
	char **v = rules_set_entries(s, &n);

	if (!v)
		return -1;
	if (s->from) {
		fputs("# from ", out);
		fputs(s->from, out);
		fputc('\n', out);
	}
	fprintf(out, "%s %s {\n", kind_words[s->kind], s->name);
	for (size_t i = 0; i < n; i++) {
		fputc('\t', out);
		print_entry(out, s, v[i]);
		fputc('\n', out);
	}
	fputs("}\n", out);
	rules_entries_free(v, n);
	return ferror(out) ? -1 : 0;
}

/* 'in NAME', or an inline list (ports), comma-separated. */
static int print_set_ref(FILE *out, const char *word, const struct rule_set *s)
{
	size_t n;
	char **v;

	if (s->name) {
		fprintf(out, " %s in %s", word, s->name);
		return 0;
	}
	if (!(v = rules_set_entries(s, &n)))
		return -1;
	fprintf(out, " %s ", word);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', out);
		print_entry(out, s, v[i]);
	}
	rules_entries_free(v, n);
	return 0;
}

/* A bit list as word,word (bits in order). */
static void print_bits(FILE *out, const char *word, uint32_t bits, const char *(*name)(unsigned))
{
	bool first = true;

	fprintf(out, " %s ", word);
	for (unsigned i = 0; i < 32; i++)
		if (bits & (1u << i)) {
			fprintf(out, "%s%s", first ? "" : ",", name(i));
			first = false;
		}
}

static const char *tunnel_name(unsigned i)
{
	return i < TUNNEL_COUNT && rules_tunnel_words[i] ? rules_tunnel_words[i] : "invalid";
}

static const char *push_name(unsigned i)
{
	return i < RULES_PUSH_WORDS && rules_push_words[i] ? rules_push_words[i] : "invalid";
}

static int print_ja4(FILE *out, const struct rule *r)
{
	char **v = malloc((r->nja4 ? r->nja4 : 1) * sizeof(*v));

	if (!v)
		return -1;
	memcpy(v, r->ja4, r->nja4 * sizeof(*v));
	sort_n(v, r->nja4, sizeof(*v), cmp_str);
	fputs(" ja4 ", out);
	for (size_t i = 0; i < r->nja4; i++)
		if (!i || strcmp(v[i - 1], v[i]))
			fprintf(out, "%s%s", i ? "," : "", v[i]);
	free(v);
	return 0;
}

/* A timeout in the largest unit that divides it. */
static void print_timeout(FILE *out, uint32_t t)
{
	if (t % 86400 == 0)
		fprintf(out, " timeout %ud", t / 86400);
	else if (t % 3600 == 0)
		fprintf(out, " timeout %uh", t / 3600);
	else if (t % 60 == 0)
		fprintf(out, " timeout %um", t / 60);
	else
		fprintf(out, " timeout %us", t);
}

static int print_option(FILE *out, const char *word, const char *text)
{
	if (!text)
		return 0;
	fprintf(out, " %s ", word);
	return rules_print_string(out, text);
}

int rules_print_rule(FILE *out, const struct rule *r)
{
	uint32_t c = r->conds;
	int rc = 0;

	fprintf(out, "rule %s %s", r->id, rule_action_name((enum rule_action)r->action));
	if (c & COND_TRANSPORT)
		fprintf(out, " transport %s", r->transport == 17 ? "udp" : "tcp");
	if (c & COND_APP)
		print_bits(out, "app", r->apps, app_proto_name);
	if ((c & COND_SNI) && r->sni)
		rc |= print_set_ref(out, "sni", r->sni);
	if ((c & COND_CONNECT) && r->connect)
		rc |= print_set_ref(out, "connect", r->connect);
	if ((c & COND_NAME) && r->name)
		rc |= print_set_ref(out, "name", r->name);
	if ((c & COND_HTTP_HOST) && r->http_host)
		rc |= print_set_ref(out, "http-host", r->http_host);
	if ((c & COND_CONNECT_PORT) && r->connect_port)
		rc |= print_set_ref(out, "connect-port", r->connect_port);
	if ((c & COND_DST) && r->dst)
		rc |= print_set_ref(out, "dst", r->dst);
	if ((c & COND_SRC) && r->src)
		rc |= print_set_ref(out, "src", r->src);
	if ((c & COND_DPORT) && r->dport)
		rc |= print_set_ref(out, "dport", r->dport);
	if (c & COND_TUNNEL)
		print_bits(out, "tunnel", r->tunnels, tunnel_name);
	if (c & COND_WEBSOCKET)
		fputs(" websocket", out);
	if (c & COND_FRONTING)
		fputs(" fronting", out);
	if (c & COND_PUSH)
		print_bits(out, "push", r->push, push_name);
	if (c & COND_JA4)
		rc |= print_ja4(out, r);
	rc |= print_option(out, "service", r->service);
	rc |= print_option(out, "msg", r->msg);
	rc |= print_option(out, "ref", r->ref);
	if (r->timeout)
		print_timeout(out, r->timeout);
	fputc('\n', out);
	return rc || ferror(out) ? -1 : 0;
}

char *rules_rule_text(const struct rule *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (!f)
		return NULL;
	rc = rules_print_rule(f, r);
	if (fclose(f) != 0 || rc < 0) {
		free(buf);
		return NULL;
	}
	if (len && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	return buf;
}

int rules_print_header(FILE *out, const struct rule_pack *pk)
{
	static const char *const words[] = { "version", "date", "source" };
	const char *texts[] = { pk->version, pk->date, pk->source };

	fprintf(out, "pack %s\n", pk->name);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (texts[i]) {
			fprintf(out, "%s ", words[i]);
			rules_print_string(out, texts[i]);
			fputc('\n', out);
		}
	if (pk->default_action)
		fprintf(out, "default %s\n",
			rule_action_name((enum rule_action)pk->default_action));
	return ferror(out) ? -1 : 0;
}

int rules_print_pack(FILE *out, const struct rule_pack *pk)
{
	int rc = rules_print_header(out, pk);

	for (size_t i = 0; i < pk->nsets; i++) {
		if (!pk->sets[i]->name)
			continue; /* inline: printed in its rule */
		fputc('\n', out);
		rc |= rules_print_set(out, pk->sets[i]);
	}
	if (pk->nrules)
		fputc('\n', out);
	for (size_t i = 0; i < pk->nrules; i++)
		rc |= rules_print_rule(out, &pk->rules[i]);
	return rc || ferror(out) ? -1 : 0;
}
