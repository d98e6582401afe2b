/*
 * proxy_tls.c: the TLS listeners (proxy-listen-tls), an "HTTPS proxy":
 * the client speaks TLS to the forwarder, then its CONNECT and the
 * tunnel's bytes inside that session.
 *
 * One context, made at start from proxy-tls-cert (the chain) and
 * proxy-tls-key: TLS 1.2 at least, OpenSSL's default ciphers, no client
 * certificates, no renegotiation, ALPN http/1.1 (a client offering only
 * others, h2 alone, is refused by the handshake), no session cache
 * (stateless tickets still resume), and OpenSSL's buffers released while
 * a connection is idle: an idle tunnel must not hold 2 x 16 KiB.
 *
 * Each client gets an SSL object on its socket and handshakes without
 * blocking (ST_HANDSHAKE, inside the head timeout). Afterwards the rest of
 * the forwarder reads and writes the client through side_recv and
 * side_send, which answer as recv and send do, with EAGAIN also when
 * OpenSSL waits for the socket: the event it waits for (a read may need
 * EPOLLOUT, a write EPOLLIN) is kept in c->tls_rd or c->tls_wr and
 * conn_want registers it in place of the plain one. A write that waited
 * is retried with the same bytes (they stay at the front of the
 * direction's buffer). A TLS tunnel is copied, never spliced.
 */
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "proxy/proxy.h"
#include "proxy/proxy_int.h"

/* OpenSSL's first error for file, then its queue emptied. */
static void file_error(const char *key, const char *file)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	proxy_log("%s %s: %s", key, file, e ? buf : "unknown error");
	ERR_clear_error();
}

/* ALPN: http/1.1 when the client offers it; a client offering only
 * other protocols gets the no_application_protocol alert. */
static int alpn_select(SSL *s, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char h11[] = "\x08http/1.1";

	(void)s;
	(void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen, h11, sizeof(h11) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	return SSL_TLSEXT_ERR_OK;
}

SSL_CTX *proxy_tls_ctx(const struct proxy_config *c)
{
	const char *files[2][2] = { { "proxy-tls-cert", c->tls_cert },
				    { "proxy-tls-key", c->tls_key } };
	SSL_CTX *ctx;

	for (int i = 0; i < 2; i++) {
		FILE *f;

		if (!files[i][1]) {
			proxy_log("proxy-listen-tls needs %s", files[i][0]);
			return NULL;
		}
		/* errno's words name a missing or unreadable file best. */
		if (!(f = fopen(files[i][1], "r"))) {
			proxy_log("%s %s: %s", files[i][0], files[i][1], strerror(errno));
			return NULL;
		}
		fclose(f);
	}
	if (!(ctx = SSL_CTX_new(TLS_server_method()))) {
		file_error("TLS context for", c->tls_cert);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* A client closing without close_notify ends its direction like a
	 * plain EOF: what the tunnel carries has its own end-to-end TLS. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1) {
		file_error("proxy-tls-cert", c->tls_cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) != 1) {
		file_error("proxy-tls-key", c->tls_key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		proxy_log("proxy-tls-key %s: not the key of proxy-tls-cert %s", c->tls_key,
			  c->tls_cert);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* An SSL call that returned r <= 0: -1 with EAGAIN and the event it
 * waits for in *want, 0 at the peer's close_notify (or EOF), else -1 with
 * an errno and OpenSSL's reason in c->tls_error. */
static ssize_t tls_result(struct conn *c, int r, uint32_t *want)
{
	int e = SSL_get_error(c->ssl, r);
	unsigned long code;

	switch (e) {
	case SSL_ERROR_WANT_READ:
		*want = EPOLLIN;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*want = EPOLLOUT;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (!errno)
			return 0; /* EOF without close_notify (OpenSSL 1.1) */
		return -1;
	default:
		code = ERR_peek_error();
		if (code && !c->tls_error)
			c->tls_error = ERR_reason_error_string(code);
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

int tls_handshake(struct conn *c)
{
	int r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_accept(c->ssl)) == 1) {
		c->tls_rd = EPOLLIN;
		return 1;
	}
	if (tls_result(c, r, &c->tls_rd) < 0 && errno == EAGAIN)
		return 0;
	if (!c->tls_error)
		c->tls_error = r == 0 || !errno ? "closed in the handshake" : strerror(errno);
	return -1;
}

ssize_t side_recv(struct conn *c, int side, void *buf, size_t len)
{
	int n;

	if (side || !c->ssl)
		return recv(c->fd[side], buf, len, 0);
	ERR_clear_error();
	errno = 0;
	if ((n = SSL_read(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len)) > 0) {
		c->tls_rd = EPOLLIN;
		return n;
	}
	return tls_result(c, n, &c->tls_rd);
}

ssize_t side_send(struct conn *c, int side, const void *buf, size_t len)
{
	int n;

	if (side || !c->ssl)
		return send(c->fd[side], buf, len, MSG_NOSIGNAL);
	ERR_clear_error();
	errno = 0;
	if ((n = SSL_write(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len)) > 0) {
		c->tls_wr = EPOLLOUT;
		return n;
	}
	if (tls_result(c, n, &c->tls_wr) == 0 || !errno)
		errno = EPIPE; /* no more writing after the peer's close_notify */
	return -1;
}

int side_shut_wr(struct conn *c, int side)
{
	if (!side && c->ssl) {
		int r;

		ERR_clear_error();
		errno = 0;
		/* 0: sent, the client's may come later; < 0 with EAGAIN:
		 * called again (once more for the rest) at EPOLLOUT. */
		if ((r = SSL_shutdown(c->ssl)) < 0 && tls_result(c, r, &c->tls_wr) < 0 &&
		    errno == EAGAIN)
			return -1;
		c->tls_wr = EPOLLOUT;
	}
	shutdown(c->fd[side], SHUT_WR);
	return 0;
}
