/*
 * dissect_dtls.c: a DTLS ClientHello over UDP (RFC 6347 4.1 and 4.2.2,
 * RFC 9147 for 1.3, which keeps this plaintext record form for the hello).
 *
 *   record     type[1]=22 version[2] epoch[2] sequence[6] length[2]
 *              fragment[length]            (records back to back in a datagram)
 *   handshake  type[1]=1 length[3] message_seq[2] fragment_offset[3]
 *              fragment_length[3] body[fragment_length]
 *   body       version[2] random[32] session_id<0..32> cookie<0..255>
 *              cipher_suites<2..2^16-2> compression<1..2^8-1>
 *              [extensions<0..2^16-1>, server_name as in TLS]
 *
 * Versions: 0xfeff (1.0), 0xfefd (1.2 and the 1.3 hello), and 0x0100, the
 * pre-standard version OpenSSL and Cisco AnyConnect still send. A client
 * datagram whose first record is a handshake record holding a ClientHello
 * is read as a hello: a record longer than its datagram, a fragment past
 * its message, or lengths that disagree with their container: not mine. A
 * hello in several fragments is DTLS when its first fragment is well
 * formed; its SNI is read only when the first fragment holds the whole
 * hello.
 *
 * Any other datagram is DTLS, without facts, when it is records back to
 * back filling it exactly: type 20..23, a version above, and a length; so
 * are sessions picked up late and a server's flight seen alone. One
 * datagram decides. The STUN dissector asks the same question of the
 * datagrams that follow STUN on a flow and of those inside TURN
 * (dissect_dtls_datagram).
 */
#include <string.h>

#include "dissect/dissect.h"
#include "util/cursor.h"

#define DTLS_CHANGE_CIPHER_SPEC 20
#define DTLS_APPLICATION_DATA 23
#define DTLS_HANDSHAKE 22
#define DTLS_CLIENT_HELLO 1

static bool dtls_version(uint16_t v)
{
	return v == 0xfeff || v == 0xfefd || v == 0xfefc || v == 0x0100;
}

/* The extensions block of a whole hello: bounds, and the first host_name. */
static bool walk_extensions(struct cursor b, struct dpix_facts *facts)
{
	struct cursor exts, ext;
	uint16_t n16, type;

	if (cur_left(&b) == 0)
		return true;
	if (cur_u16be(&b, &n16) < 0 || n16 != cur_left(&b) || cur_sub(&b, n16, &exts) < 0)
		return false;
	while (cur_left(&exts)) {
		if (cur_u16be(&exts, &type) < 0 || cur_u16be(&exts, &n16) < 0 ||
		    cur_sub(&exts, n16, &ext) < 0)
			return false;
		if (type == 0 && !dissect_server_name(cur_ptr(&ext), cur_left(&ext), facts))
			return false;
	}
	return true;
}

/* Body fields up to the extensions; the cursor holds the hello's fragment. */
static bool hello_body(struct cursor *b, bool whole, struct dpix_facts *facts)
{
	uint16_t version, n16;
	uint8_t n8;

	if (cur_u16be(b, &version) < 0)
		return !whole;
	if (!dtls_version(version))
		return false;
	if (cur_skip(b, 32) < 0 || cur_u8(b, &n8) < 0 || n8 > 32 || cur_skip(b, n8) < 0 ||
	    cur_u8(b, &n8) < 0 || cur_skip(b, n8) < 0 || cur_u16be(b, &n16) < 0 || n16 < 2 ||
	    (n16 & 1) || cur_skip(b, n16) < 0 || cur_u8(b, &n8) < 0 || n8 < 1 ||
	    cur_skip(b, n8) < 0)
		return !whole; /* a first fragment may stop anywhere */
	return !whole || walk_extensions(*b, facts);
}

/* The hello in the fragment of a client's first handshake record. */
static enum dpix_answer client_hello(struct cursor frag, struct dpix_facts *facts)
{
	uint32_t hlen, foff, flen;
	uint16_t seq;
	uint8_t type;

	if (cur_u8(&frag, &type) < 0 || type != DTLS_CLIENT_HELLO || cur_u24be(&frag, &hlen) < 0 ||
	    cur_u16be(&frag, &seq) < 0 || cur_u24be(&frag, &foff) < 0 ||
	    cur_u24be(&frag, &flen) < 0 || flen != cur_left(&frag) || foff != 0 || flen > hlen ||
	    hlen < 38)
		return DPIX_NOT_MINE;
	if (!hello_body(&frag, flen == hlen, facts))
		return DPIX_NOT_MINE;
	return DPIX_MATCH;
}

/* One record header and its fragment; false if it cannot be DTLS. */
static bool record(struct cursor *c, uint8_t *type, struct cursor *frag)
{
	uint16_t version, rlen;

	return cur_u8(c, type) == 0 && *type >= DTLS_CHANGE_CIPHER_SPEC &&
	       *type <= DTLS_APPLICATION_DATA && cur_u16be(c, &version) == 0 &&
	       dtls_version(version) && cur_skip(c, 2 + 6) == 0 && cur_u16be(c, &rlen) == 0 &&
	       rlen > 0 && cur_sub(c, rlen, frag) == 0;
}

enum dpix_answer dissect_dtls_datagram(const uint8_t *p, size_t n, bool from_client,
				       struct dpix_facts *facts)
{
	struct cursor c = cur_make(p, n), frag;
	uint8_t type, htype;

	facts->sni_len = 0;
	if (!record(&c, &type, &frag))
		return DPIX_NOT_MINE;
	if (from_client && type == DTLS_HANDSHAKE && cur_peek_u8(&frag, 0, &htype) == 0 &&
	    htype == DTLS_CLIENT_HELLO)
		return client_hello(frag, facts);
	while (cur_left(&c))
		if (!record(&c, &type, &frag))
			return DPIX_NOT_MINE;
	return DPIX_MATCH;
}

static enum dpix_answer dtls_probe(const struct dpix_input *in, struct dpix_facts *facts)
{
	return dissect_dtls_datagram(in->data[in->dir], in->len[in->dir], in->dir == 0, facts);
}

const struct dissector dissect_dtls = {
	.name = "dtls",
	.app = APP_DTLS,
	.transports = DPIX_UDP,
	.max_segs = 2,
	.max_bytes = 65535,
	.probe = dtls_probe,
};
