/*
 * dpixd_conf.c: the settings table behind dpixd's flags and dpixd.conf(5).
 *
 * The file is lines of "key value", one setting a line:
 *
 *     # a comment, to the end of the line
 *     queue   0
 *     rules   /etc/dpix/rules/rainbow.rules
 *     rules   /etc/dpix/rules/local.rules      # list keys repeat
 *
 * A key and its value are words separated by blanks; a word starting with
 * '#' begins a comment. Anything else is an error naming the file, the
 * line and the column of the offending word, with what was expected: an
 * unknown key, a key without a value, a second value, a value out of
 * range, a key given twice (but for the lists), a line over
 * DPIXD_CONF_LINE_MAX bytes, a NUL byte. Nothing is silently ignored.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "dpixd/dpixd_conf.h"
#include "flow/flow-t.h"
#include "proxy/proxy.h"
#include "rules/rules-t.h"
#include "stream/stream-t.h"

enum kind {
	K_NUM,	   /* an unsigned number into a field of width size */
	K_BOOL,	   /* yes or no */
	K_STR,	   /* a string kept as is */
	K_PACK,	   /* rules: a list */
	K_HOOK,	   /* hook: a list of bits */
	K_ADDR,	   /* ADDR:PORT */
	K_SOCKET,  /* a unix socket path, or none */
	K_LISTEN,  /* proxy-listen: a list of ADDR:PORT */
	K_REDIR,   /* proxy-transparent: the same list, redirected listeners */
	K_TPROXY,  /* proxy-tproxy: the same list, TPROXY listeners */
	K_TLS,	   /* proxy-listen-tls: the same list, TLS listeners */
	K_PARENT,  /* proxy-parent: HOST:PORT */
	K_FRONTING /* proxy-fronting: close or log */
};

struct opt {
	struct dpixd_conf_key key;
	enum kind kind;
	size_t off, size;
	unsigned long min, max;
};

#define FIELD(f) offsetof(struct dpixd_config, f), sizeof(((struct dpixd_config *)0)->f)

/* One table for the flags and the file; dpixd_conf_keys mirrors the names. */
static const struct opt opts[] = {
	{ { "rules", false, true }, K_PACK, 0, 0, 0, 0 },
	{ { "eve", false, false }, K_STR, FIELD(eve_path), 0, 0 },
	{ { "queue", false, false }, K_NUM, FIELD(queue), 0, 65535 },
	{ { "queues", false, false }, K_NUM, FIELD(nqueues), 0, DPIXD_MAX_QUEUES },
	{ { "fail-closed", true, false }, K_BOOL, FIELD(fail_closed), 0, 0 },
	{ { "copy-range", false, false }, K_NUM, FIELD(copy_range), 128, 65535 },
	{ { "queue-maxlen", false, false }, K_NUM, FIELD(queue_maxlen), 16, 1u << 20 },
	{ { "mark-mask", false, false }, K_NUM, FIELD(mark_mask), 0, UINT32_MAX },
	{ { "mark-bypass", false, false }, K_NUM, FIELD(mark[ACTION_BYPASS]), 0, UINT32_MAX },
	{ { "mark-inspect", false, false }, K_NUM, FIELD(mark[ACTION_INSPECT]), 0, UINT32_MAX },
	{ { "mark-drop", false, false }, K_NUM, FIELD(mark[ACTION_DROP]), 0, UINT32_MAX },
	{ { "hook", false, false }, K_HOOK, FIELD(hooks), 0, 0 },
	{ { "max-flows", false, false }, K_NUM, FIELD(pipe.max_flows), 1, FLOW_MAX_CAPACITY },
	{ { "max-packets", false, false }, K_NUM, FIELD(pipe.max_packets), 1, 1000 },
	{ { "stream-window", false, false },
	  K_NUM,
	  FIELD(pipe.stream_window),
	  64,
	  STREAM_MAX_WINDOW },
	{ { "control-socket", false, false }, K_SOCKET, FIELD(ctl_path), 0, 0 },
	{ { "metrics", false, false }, K_ADDR, FIELD(metrics_addr), 0, 0 },
	{ { "user", false, false }, K_STR, FIELD(user), 0, 0 },
	{ { "watchdog", false, false }, K_NUM, FIELD(watchdog), 0, 3600 },
	{ { "no-supervise", true, false }, K_BOOL, FIELD(no_supervise), 0, 0 },
	{ { "require-signed", true, false }, K_BOOL, FIELD(require_signed), 0, 0 },
	{ { "pubkey", false, false }, K_STR, FIELD(pubkey), 0, 0 },
	{ { "proxy-listen", false, false }, K_LISTEN, FIELD(proxy.listen), 0, 0 },
	{ { "proxy-parent", false, true }, K_PARENT, FIELD(proxy.parent_host), 0, 0 },
	{ { "proxy-max-tunnels", false, true }, K_NUM, FIELD(proxy.max_tunnels), 1, 1u << 20 },
	{ { "proxy-idle-timeout", false, true }, K_NUM, FIELD(proxy.idle_s), 1, 7 * 24 * 3600 },
	{ { "proxy-fronting", false, true }, K_FRONTING, FIELD(proxy.fronting_log), 0, 0 },
	{ { "proxy-transparent", false, false }, K_REDIR, FIELD(proxy.listen), 0, 0 },
	{ { "proxy-tproxy", false, false }, K_TPROXY, FIELD(proxy.listen), 0, 0 },
	{ { "proxy-mark", false, true }, K_NUM, FIELD(proxy.mark), 0, UINT32_MAX },
	{ { "proxy-head-timeout", false, true }, K_NUM, FIELD(proxy.head_s), 1, 3600 },
	{ { "proxy-parent-auth", false, true }, K_STR, FIELD(proxy_parent_auth), 0, 0 },
	{ { "proxy-listen-tls", false, false }, K_TLS, FIELD(proxy.listen), 0, 0 },
	{ { "proxy-tls-cert", false, false }, K_STR, FIELD(proxy.tls_cert), 0, 0 },
	{ { "proxy-tls-key", false, false }, K_STR, FIELD(proxy.tls_key), 0, 0 },
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

const struct dpixd_conf_key *dpixd_conf_key(size_t i)
{
	return i < NOPTS ? &opts[i].key : NULL;
}

static const struct opt *find(const char *key)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (!strcmp(opts[i].key.name, key))
			return &opts[i];
	return NULL;
}

void dpixd_conf_defaults(struct dpixd_config *c, const char *rules_dir)
{
	const char *path = c->conf_path;
	bool required = c->conf_required;
	const struct dpixd_arg *args = c->args;
	size_t nargs = c->nargs;

	*c = (struct dpixd_config){
		.nqueues = 1,
		.copy_range = DPIXD_DEFAULT_COPY_RANGE,
		.queue_maxlen = DPIXD_DEFAULT_QUEUE_MAXLEN,
		.rcvbuf = DPIXD_DEFAULT_RCVBUF,
		.mark_mask = DPIX_MARK_MASK,
		.mark = { 0, DPIX_MARK_BYPASS, DPIX_MARK_INSPECT, DPIX_MARK_DROP },
		.rules_dir = rules_dir,
		.ctl_path = DPIXD_DEFAULT_CTL,
		.watchdog = DPIXD_DEFAULT_WATCHDOG,
		.proxy = { .max_tunnels = PROXY_DEFAULT_MAX_TUNNELS,
			   .idle_s = PROXY_DEFAULT_IDLE_S,
			   .head_s = PROXY_HEAD_TIMEOUT_MS / 1000 },
		.conf_path = path,
		.conf_required = required,
		.args = args,
		.nargs = nargs,
	};
	pipeline_config_defaults(&c->pipe);
}

/* ADDR:PORT, ADDR an IPv4 address or a bracketed IPv6 one. */
static bool is_addr_port(const char *s)
{
	char host[64];
	const char *colon = strrchr(s, ':'), *h = s;
	size_t hlen;
	unsigned char buf[16];
	char *end;
	unsigned long port;

	if (!colon)
		return false;
	hlen = (size_t)(colon - s);
	if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
		h = s + 1;
		hlen -= 2;
	}
	if (!hlen || hlen >= sizeof(host))
		return false;
	memcpy(host, h, hlen);
	host[hlen] = 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end || errno || !port || port > 65535)
		return false;
	return inet_pton(h == s ? AF_INET : AF_INET6, host, buf) == 1;
}

static void put_num(struct dpixd_config *c, const struct opt *o, unsigned long v)
{
	char *p = (char *)c + o->off;

	if (o->size == sizeof(uint16_t)) {
		uint16_t x = (uint16_t)v;
		memcpy(p, &x, sizeof(x));
	} else {
		uint32_t x = (uint32_t)v;
		memcpy(p, &x, sizeof(x));
	}
}

/* A string of the file (value points into a line buffer) or of argv. */
static const char *keep(struct dpixd_config *c, const char *value, bool copy)
{
	char *s;

	if (!copy)
		return value;
	if (c->nowned == DPIXD_CONF_STRINGS || !(s = strdup(value)))
		return NULL;
	c->owned[c->nowned++] = s;
	return s;
}

static int set(struct dpixd_config *c, const struct opt *o, const char *value, bool copy, char *why,
	       size_t whylen)
{
	char *end;
	unsigned long v;
	const char *s;

	switch (o->kind) {
	case K_NUM:
		errno = 0;
		v = strtoul(value, &end, 0);
		if (value[0] < '0' || value[0] > '9' || *end || errno || v < o->min || v > o->max) {
			snprintf(why, whylen, "expected a number from %lu to %lu", o->min, o->max);
			return -2;
		}
		put_num(c, o, v);
		return 0;
	case K_BOOL:
		if (strcmp(value, "yes") && strcmp(value, "no")) {
			snprintf(why, whylen, "expected yes or no");
			return -2;
		}
		*(bool *)((char *)c + o->off) = !strcmp(value, "yes");
		return 0;
	case K_HOOK:
		if (!strcmp(value, "forward"))
			c->hooks |= HOOK_FORWARD;
		else if (!strcmp(value, "input"))
			c->hooks |= HOOK_INPUT;
		else if (!strcmp(value, "output"))
			c->hooks |= HOOK_OUTPUT;
		else {
			snprintf(why, whylen, "expected forward, input or output");
			return -2;
		}
		return 0;
	case K_PACK:
		if (c->npacks == DPIXD_MAX_PACKS) {
			snprintf(why, whylen, "expected at most %d packs", DPIXD_MAX_PACKS);
			return -2;
		}
		if (copy) {
			char *p = strdup(value);

			if (!p)
				goto nomem;
			c->packs_owned[c->npacks] = p;
			value = p;
		}
		c->packs[c->npacks++] = value;
		return 0;
	case K_LISTEN:
	case K_REDIR:
	case K_TPROXY:
	case K_TLS:
		if (c->proxy.nlisten == PROXY_MAX_LISTEN ||
		    proxy_parse_endpoint(value, &c->proxy.listen[c->proxy.nlisten]) < 0) {
			snprintf(why, whylen,
				 "expected ADDR:PORT or [V6]:PORT (at most %d listeners)",
				 PROXY_MAX_LISTEN);
			return -2;
		}
		c->proxy.listen[c->proxy.nlisten].transparent =
		    o->kind == K_REDIR || o->kind == K_TPROXY;
		c->proxy.listen[c->proxy.nlisten].tproxy = o->kind == K_TPROXY;
		c->proxy.listen[c->proxy.nlisten++].tls = o->kind == K_TLS;
		return 0;
	case K_PARENT:
		if (proxy_parse_parent(value, &c->proxy) < 0) {
			snprintf(why, whylen, "expected HOST:PORT");
			return -2;
		}
		return 0;
	case K_FRONTING:
		if (strcmp(value, "close") && strcmp(value, "log")) {
			snprintf(why, whylen, "expected close or log");
			return -2;
		}
		c->proxy.fronting_log = !strcmp(value, "log");
		return 0;
	case K_SOCKET:
		if (strlen(value) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			snprintf(why, whylen, "expected a path shorter than %zu bytes",
				 sizeof(((struct sockaddr_un *)0)->sun_path));
			return -2;
		}
		break;
	case K_ADDR:
		if (!is_addr_port(value)) {
			snprintf(why, whylen,
				 "expected ADDR:PORT (an IPv4 address or [IPv6], a port from 1 to "
				 "65535)");
			return -2;
		}
		break;
	case K_STR:
		if (!*value) {
			snprintf(why, whylen, "expected a non-empty value");
			return -2;
		}
		break;
	}
	if (o->kind == K_SOCKET && !strcmp(value, "none"))
		s = NULL;
	else if (!(s = keep(c, value, copy)))
		goto nomem;
	memcpy((char *)c + o->off, &s, sizeof(s));
	return 0;
nomem:
	snprintf(why, whylen, "out of memory");
	return -2;
}

int dpixd_conf_set(struct dpixd_config *c, const char *key, const char *value, char *why,
		   size_t whylen)
{
	const struct opt *o = find(key);

	if (!o) {
		snprintf(why, whylen, "unknown key");
		return -1;
	}
	return set(c, o, value, false, why, whylen);
}

/* The next word of line from *pos: its start, NUL-terminated in place;
 * NULL at the end of the line or a comment. */
static char *word(char *line, size_t *pos)
{
	char *w;

	while (line[*pos] == ' ' || line[*pos] == '\t')
		(*pos)++;
	if (!line[*pos] || line[*pos] == '#')
		return NULL;
	w = line + *pos;
	while (line[*pos] && line[*pos] != ' ' && line[*pos] != '\t')
		(*pos)++;
	if (line[*pos])
		line[(*pos)++] = 0;
	return w;
}

static void key_list(char *out, size_t len)
{
	size_t n = 0;

	out[0] = 0;
	for (size_t i = 0; i < NOPTS && n < len; i++) {
		int k = snprintf(out + n, len - n, "%s%s", i ? ", " : "", opts[i].key.name);

		if (k < 0)
			break;
		n += (size_t)k;
	}
}

int dpixd_conf_read(struct dpixd_config *c, const char *path, bool required, char *err,
		    size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[DPIXD_CONF_LINE_MAX + 2], why[128];
	unsigned seen[NOPTS] = { 0 };
	unsigned lineno = 0;
	int rc = -1;

	if (!f) {
		if (errno == ENOENT && !required)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		size_t len = 0, pos = 0;
		char *key, *value, *extra;
		const struct opt *o;
		int ch = EOF;

		/* getc, not fgets: a NUL byte must not end the line unseen. */
		while (len <= DPIXD_CONF_LINE_MAX && (ch = getc(f)) != EOF && ch != '\n')
			line[len++] = (char)ch;
		if (ch == EOF && !len)
			break;
		line[len] = 0;
		lineno++;
		if (len > DPIXD_CONF_LINE_MAX) {
			snprintf(err, errlen, "%s:%u:1: line longer than %d bytes", path, lineno,
				 DPIXD_CONF_LINE_MAX);
			goto out;
		}
		if (len && line[len - 1] == '\r')
			line[--len] = 0;
		if (memchr(line, 0, len) != NULL) {
			snprintf(err, errlen, "%s:%u:%zu: a NUL byte: expected text", path, lineno,
				 (size_t)((char *)memchr(line, 0, len) - line) + 1);
			goto out;
		}
		if (!(key = word(line, &pos)))
			continue;
		if (!(o = find(key))) {
			char keys[512];

			key_list(keys, sizeof(keys));
			snprintf(err, errlen, "%s:%u:%zu: '%s': unknown key, expected one of %s",
				 path, lineno, (size_t)(key - line) + 1, key, keys);
			goto out;
		}
		if (!(value = word(line, &pos))) {
			snprintf(err, errlen, "%s:%u:%zu: '%s': expected a value after the key",
				 path, lineno, pos + 1, key);
			goto out;
		}
		if ((extra = word(line, &pos))) {
			snprintf(err, errlen,
				 "%s:%u:%zu: '%s': expected one value, then the end of "
				 "the line or a # comment",
				 path, lineno, (size_t)(extra - line) + 1, extra);
			goto out;
		}
		if (seen[o - opts] && o->kind != K_PACK && o->kind != K_HOOK) {
			snprintf(err, errlen,
				 "%s:%u:%zu: '%s': already set on line %u, expected it "
				 "once",
				 path, lineno, (size_t)(key - line) + 1, key, seen[o - opts]);
			goto out;
		}
		seen[o - opts] = lineno;
		if (set(c, o, value, true, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%u:%zu: %s '%s': %s", path, lineno,
				 (size_t)(value - line) + 1, key, value, why);
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

int dpixd_conf_check(const struct dpixd_config *c, char *err, size_t errlen)
{
	static const char *const names[ACTION_COUNT] = { NULL, "bypass", "inspect", "drop" };

	if (c->nqueues && (uint32_t)c->queue + c->nqueues - 1 > 65535) {
		snprintf(err, errlen, "queues %u to %u: the last queue number is 65535", c->queue,
			 c->queue + c->nqueues - 1);
		return -1;
	}
	for (int a = ACTION_BYPASS; a < ACTION_COUNT; a++) {
		if (!c->mark[a] || (c->mark[a] & ~c->mark_mask)) {
			snprintf(err, errlen,
				 "mark-%s 0x%x: must be non-zero and inside mark-mask 0x%x",
				 names[a], c->mark[a], c->mark_mask);
			return -1;
		}
		for (int b = ACTION_BYPASS; b < a; b++)
			if (c->mark[a] == c->mark[b]) {
				snprintf(err, errlen, "mark-%s and mark-%s are both 0x%x", names[b],
					 names[a], c->mark[a]);
				return -1;
			}
	}
	if (!c->nqueues && !c->proxy.nlisten) {
		snprintf(err, errlen,
			 "queues 0 and no proxy-listen, proxy-transparent, proxy-tproxy or "
			 "proxy-listen-tls: "
			 "nothing to serve");
		return -1;
	}
	for (size_t i = 0; i < c->proxy.nlisten; i++)
		if (c->proxy.listen[i].tls && (!c->proxy.tls_cert || !c->proxy.tls_key)) {
			snprintf(err, errlen,
				 "proxy-listen-tls: needs proxy-tls-cert and "
				 "proxy-tls-key");
			return -1;
		}
	if (c->require_signed && !c->pubkey) {
		snprintf(err, errlen, "require-signed: no pubkey to verify the packs with");
		return -1;
	}
	if (c->proxy_parent_auth && !c->proxy.has_parent) {
		snprintf(err, errlen, "proxy-parent-auth: no proxy-parent to send it to");
		return -1;
	}
	return 0;
}

/* The listener key an endpoint came from. */
static enum kind listener_kind(const struct proxy_endpoint *e)
{
	return e->tproxy ? K_TPROXY : e->transparent ? K_REDIR : e->tls ? K_TLS : K_LISTEN;
}

/* The command line's proxy-listen replaces the file's, and so do its
 * proxy-transparent, its proxy-tproxy and its proxy-listen-tls, each
 * list apart. */
static void drop_listeners(struct proxy_config *p, enum kind k)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nlisten; i++)
		if (listener_kind(&p->listen[i]) != k)
			p->listen[n++] = p->listen[i];
	p->nlisten = n;
}

int dpixd_conf_build(struct dpixd_config *c, const char *rules_dir, char *err, size_t errlen)
{
	bool cleared_packs = false, cleared_hooks = false;
	bool cleared_listen[4] = { false }; /* by kind - K_LISTEN (consecutive) */
	char why[128];

	dpixd_conf_defaults(c, rules_dir);
	if (c->conf_path && dpixd_conf_read(c, c->conf_path, c->conf_required, err, errlen) < 0)
		return -1;
	/* The command line replaces a list the file gave. */
	for (size_t i = 0; i < c->nargs; i++) {
		const struct opt *o = find(c->args[i].key);

		if (!o) {
			snprintf(err, errlen, "--%s: unknown option", c->args[i].key);
			return -1;
		}
		if (o->kind == K_PACK && !cleared_packs) {
			for (size_t k = 0; k < c->npacks; k++) {
				free(c->packs_owned[k]);
				c->packs_owned[k] = NULL;
			}
			c->npacks = 0;
			cleared_packs = true;
		}
		if (o->kind == K_HOOK && !cleared_hooks) {
			c->hooks = 0;
			cleared_hooks = true;
		}
		if (o->kind == K_LISTEN || o->kind == K_REDIR || o->kind == K_TPROXY ||
		    o->kind == K_TLS) {
			size_t l = (size_t)(o->kind - K_LISTEN);

			if (!cleared_listen[l])
				drop_listeners(&c->proxy, o->kind);
			cleared_listen[l] = true;
		}
		if (set(c, o, c->args[i].value, false, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "--%s: '%s': %s", o->key.name, c->args[i].value, why);
			return -1;
		}
	}
	if (!c->hooks)
		c->hooks = HOOK_FORWARD;
	return dpixd_conf_check(c, err, errlen);
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

void dpixd_conf_diff(const struct dpixd_config *a, const struct dpixd_config *b, char *out,
		     size_t outlen)
{
	size_t n = 0;

	out[0] = 0;
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		const char *pa = (const char *)a + o->off, *pb = (const char *)b + o->off;
		bool same;
		int k;

		if (o->key.live)
			continue;
		if (o->kind == K_STR || o->kind == K_SOCKET || o->kind == K_ADDR) {
			const char *sa, *sb;

			memcpy(&sa, pa, sizeof(sa));
			memcpy(&sb, pb, sizeof(sb));
			same = same_str(sa, sb);
		} else
			same = !memcmp(pa, pb, o->size);
		if (same || n >= outlen)
			continue;
		k = snprintf(out + n, outlen - n, "%s%s", n ? ", " : "", o->key.name);
		if (k > 0)
			n += (size_t)k;
	}
}

void dpixd_conf_free(struct dpixd_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < DPIXD_MAX_PACKS; i++) {
		free(c->packs_owned[i]);
		c->packs_owned[i] = NULL;
	}
	for (size_t i = 0; i < c->nowned; i++)
		free(c->owned[i]);
	c->nowned = 0;
}
