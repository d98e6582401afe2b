/*
 * proxy_guard.c: which upstream addresses the forwarder refuses to connect
 * to (the DNS rebinding guard), the text forms of its addresses, and its
 * settings read from text (listeners, the parent and its credentials).
 *
 * A whitelisted name may resolve to anything its DNS says: the loopback,
 * a link-local or private network (RFC 1918, ULA), the unspecified
 * address, multicast or broadcast, or the proxy's own listening address.
 * Those are refused unless a pack's address set lists the address (the
 * caller asks the rules about that; here only the class is told). An
 * IPv4-mapped IPv6 address is judged as the IPv4 address it maps.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy/proxy.h"

static enum proxy_addr_kind v4_class(const uint8_t a[4])
{
	if (a[0] == 127)
		return ADDR_LOOPBACK;
	if (a[0] == 169 && a[1] == 254)
		return ADDR_LINK_LOCAL;
	/* RFC 1918, and the carrier-grade NAT range 100.64.0.0/10 (RFC 6598). */
	if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168) ||
	    (a[0] == 100 && (a[1] & 0xc0) == 64))
		return ADDR_PRIVATE;
	if (a[0] == 0)
		return ADDR_UNSPECIFIED; /* 0.0.0.0/8: "this network" */
	if ((a[0] & 0xf0) == 224 || (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255))
		return ADDR_MULTICAST;
	return ADDR_PUBLIC;
}

static enum proxy_addr_kind v6_class(const uint8_t a[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t zero[16] = { 0 };

	if (memcmp(a, zero, 15) == 0)
		return a[15] == 1 ? ADDR_LOOPBACK : a[15] == 0 ? ADDR_UNSPECIFIED : ADDR_PUBLIC;
	/* Forms that carry an IPv4 address, which decides: mapped, the old
	 * IPv4-compatible ::a.b.c.d, NAT64's well-known prefix (a gateway with
	 * NAT64 would reach the private address inside), and 6to4 2002::/16. */
	if (!memcmp(a, mapped, 12) || !memcmp(a, zero, 12) || !memcmp(a, nat64, 12))
		return v4_class(a + 12);
	if (a[0] == 0x20 && a[1] == 0x02)
		return v4_class(a + 2);
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return ADDR_LINK_LOCAL;
	if ((a[0] & 0xfe) == 0xfc)
		return ADDR_PRIVATE;
	if (a[0] == 0xff)
		return ADDR_MULTICAST;
	return ADDR_PUBLIC;
}

/* Address bytes and port of an endpoint, IPv4 as mapped IPv6. */
static void addr16(const struct sockaddr *sa, uint8_t out[16], uint16_t *port)
{
	memset(out, 0, 16);
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in in;

		memcpy(&in, sa, sizeof(in));
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &in.sin_addr, 4);
		*port = ntohs(in.sin_port);
	} else {
		struct sockaddr_in6 in6;

		memcpy(&in6, sa, sizeof(in6));
		memcpy(out, &in6.sin6_addr, 16);
		*port = ntohs(in6.sin6_port);
	}
}

/* The target is a listener's address (any port: the proxy's own host),
 * or any address on a wildcard listener's port (that is every local
 * address). */
static bool is_listener(const uint8_t a[16], uint16_t port, const struct proxy_config *c)
{
	static const uint8_t any4[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const uint8_t any6[16] = { 0 };

	for (size_t i = 0; c && i < c->nlisten; i++) {
		uint8_t l[16];
		uint16_t lport;

		addr16((const struct sockaddr *)&c->listen[i].ss, l, &lport);
		if (!memcmp(l, a, 16))
			return true;
		if (port == lport && (!memcmp(l, any4, 16) || !memcmp(l, any6, 16)))
			return true;
	}
	return false;
}

enum proxy_addr_kind proxy_addr_class(const struct sockaddr *sa, const struct proxy_config *c)
{
	uint8_t a[16];
	uint16_t port;
	enum proxy_addr_kind k;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return ADDR_UNSPECIFIED;
	addr16(sa, a, &port);
	k = v6_class(a);
	if (k == ADDR_PUBLIC && is_listener(a, port, c))
		return ADDR_LISTENER;
	return k;
}

const char *proxy_addr_kind_name(enum proxy_addr_kind k)
{
	static const char *const names[] = { "public",	    "loopback",	 "link-local", "private",
					     "unspecified", "multicast", "listener" };

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "unknown";
}

/* "1.2.3.4:3128", "[::1]:3128": digits-only port 1..65535. */
static int split_hostport(const char *text, char *host, size_t hmax, uint16_t *port)
{
	const char *colon = strrchr(text, ':'), *h = text;
	size_t hlen;
	char *end;
	unsigned long v;

	if (!colon || colon[1] < '0' || colon[1] > '9')
		return -1;
	v = strtoul(colon + 1, &end, 10);
	if (*end || v == 0 || v > 65535)
		return -1;
	hlen = (size_t)(colon - text);
	if (hlen >= 2 && text[0] == '[' && text[hlen - 1] == ']')
		h++, hlen -= 2;
	else if (memchr(text, ':', hlen))
		return -1; /* an IPv6 address needs its brackets */
	if (hlen == 0 || hlen >= hmax)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (uint16_t)v;
	return 0;
}

int proxy_parse_endpoint(const char *text, struct proxy_endpoint *e)
{
	char host[INET6_ADDRSTRLEN + 1];
	uint16_t port;
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };

	if (split_hostport(text, host, sizeof(host), &port) < 0)
		return -1;
	memset(e, 0, sizeof(*e));
	if (inet_pton(AF_INET, host, &in.sin_addr) == 1) {
		in.sin_port = htons(port);
		memcpy(&e->ss, &in, sizeof(in));
		e->len = sizeof(in);
	} else if (inet_pton(AF_INET6, host, &in6.sin6_addr) == 1) {
		in6.sin6_port = htons(port);
		memcpy(&e->ss, &in6, sizeof(in6));
		e->len = sizeof(in6);
	} else {
		return -1;
	}
	return 0;
}

int proxy_parse_parent(const char *text, struct proxy_config *c)
{
	uint16_t port;

	if (split_hostport(text, c->parent_host, sizeof(c->parent_host), &port) < 0)
		return -1;
	for (const char *p = c->parent_host; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return -1;
	snprintf(c->parent_port, sizeof(c->parent_port), "%u", port);
	c->has_parent = true;
	return 0;
}

int proxy_read_parent_auth(const char *path, struct proxy_config *c, char *err, size_t errlen)
{
	/* base64 of n bytes takes 4 * ceil(n / 3): what fits after "Basic ". */
	char line[(PROXY_AUTH_MAX - 7) / 4 * 3 + 2];
	struct stat st;
	ssize_t n;
	size_t len;
	const char *colon;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		snprintf(err, errlen, "%s: %s", path,
			 S_ISREG(st.st_mode) ? "group or others may read it: chmod 600 it"
					     : "not a regular file");
		close(fd);
		return -1;
	}
	n = read(fd, line, sizeof(line));
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	len = (size_t)n;
	if (len && line[len - 1] == '\n')
		len--;
	if (len && line[len - 1] == '\r')
		len--;
	if ((size_t)n == sizeof(line) || len > sizeof(line) - 2) {
		snprintf(err, errlen, "%s: longer than %zu bytes", path, sizeof(line) - 2);
		return -1;
	}
	colon = memchr(line, ':', len);
	if (!colon || colon == line) {
		snprintf(err, errlen, "%s: expected one line user:password", path);
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < ' ' || line[i] == 0x7f) {
			snprintf(err, errlen, "%s:1:%zu: control character", path, i + 1);
			return -1;
		}
	memcpy(c->parent_auth, "Basic ", 6);
	EVP_EncodeBlock((unsigned char *)c->parent_auth + 6, (const unsigned char *)line, (int)len);
	explicit_bzero(line, sizeof(line));
	return 0;
}
