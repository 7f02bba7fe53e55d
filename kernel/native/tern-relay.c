// tern-relay: runs a CRIU command whose page-server connection goes through
// an already connected network socket, inside mutual TLS, and counts the
// page stream on its way.
//
//   tern-relay send|recv NET_FD LOCAL_FD LENGTH_FILE CA CERT KEY PEER CRED_FILE
//       -- criu ... --ps-socket LOCAL_FD
//
// The agent opens the TCP connection to its peer (and sends the data
// channel's plaintext opening line) and hands it over as NET_FD. tern-relay
// then speaks TLS on it with the agent's certificate (CERT, KEY) of the
// cluster CA (CA): `send` (the source, dumping) is the TLS client, `recv`
// (the target's page server) the server. Each side accepts only a peer whose
// certificate is an agent's named PEER. Inside TLS the sender presents the
// migration's credential (the hex line in CRED_FILE) and the receiver answers
// `OK` or `ERR <why>`. Only then does the command start: a refused stream
// never starts a dump, so nothing is frozen for it. Exit status 3 means the
// stream was refused (TLS or credential); the reason is on stderr.
//
// tern-relay makes the socket blocking (CRIU needs that for its end),
// creates a socket pair, runs the command with one end as LOCAL_FD, and
// copies bytes between the other end and the TLS stream in both directions.
// TLS 1.3 authenticates the peers, the credential and, between relays of
// this version, a switch to tern's own frames for the stream itself (ALPN
// "tern-frames-1"; a peer that does not offer or accept it gets TLS records
// as before). A frame is a 4-byte length, that many bytes encrypted and a
// 16-byte tag (AES-128-GCM under a key of each direction exported from the
// TLS session, the nonce counting frames, the length authenticated too), up
// to 1 MiB: the cipher of TLS, without its 16 KiB records and their copies
// through TLS's buffers. A frame of length 0 ends a direction. Either way
// the receiver passes on only bytes the sender's relay sent, in order. When
// the direction that carries pages (CRIU -> network when sending, network
// -> CRIU when receiving) has ended with TLS's closing alert or the end
// frame, its length is written to LENGTH_FILE as `<bytes>\n`; the agents
// compare the two ends' lengths, so a stream cut short is caught too.
// TERN_RELAY_TLS_RECORDS=1 keeps a relay to TLS records (what an older
// relay does). tern-relay exits with the command's status; SIGTERM
// and SIGINT are passed on to it.
//
// With TERN_RELAY_PROGRESS=FILE the counted bytes so far go to FILE as the
// stream runs. With TERN_RELAY_HOLD=stdin the command starts only once `go` arrives on
// stdin (anything else, or end of file, ends the relay): the target of a
// post-copy move opens its page stream while the source dumps, but starts
// CRIU's lazy-pages daemon only when the images it needs have arrived.
//
// A peer that stops acknowledging (a cut link, a dead host) ends the stream
// after $TERN_RELAY_TIMEOUT_MS (default 30000) instead of the kernel's many
// minutes of retransmissions (TCP_USER_TIMEOUT): CRIU then fails, and a dump
// that fails unfreezes its tree.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define BUF (1 << 20)
#define CRED_HEX 64
#define ANSWER_MAX 512
#define REFUSED 3
#define HANDSHAKE_SEC 10
#define FRAME_HDR 4
#define FRAME_TAG 16
/* ALPN protocol list (length-prefixed): tern's frames inside TLS. */
static const unsigned char ALPN_FRAMES[] = "\x0dtern-frames-1";
#define ALPN_FRAMES_LEN (sizeof(ALPN_FRAMES) - 1)

static pid_t child = -1;

static void forward_signal(int sig) {
	if (child > 0) kill(child, sig);
	/* Stopped before the command started (during the handshake): nothing else to wait for. */
	else _exit(128 + sig);
}

static void die(const char *what) {
	fprintf(stderr, "tern-relay: %s: %s\n", what, strerror(errno));
	exit(125);
}

static void tls_die(const char *what) {
	unsigned long e = ERR_get_error();
	char msg[256] = "unknown error";
	if (e) ERR_error_string_n(e, msg, sizeof(msg));
	fprintf(stderr, "tern-relay: %s: %s\n", what, msg);
	exit(125);
}

/* ------------------------------------------------------------------ TLS */

static SSL *ssl;
/* The receiver, once TLS is up, tells the sender why it refuses. */
static int answer_refusals;

__attribute__((format(printf, 1, 2))) static void refuse(const char *fmt, ...) {
	char why[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	fprintf(stderr, "tern-relay: %s\n", why);
	if (answer_refusals) {
		char line[620];
		int n = snprintf(line, sizeof(line), "ERR %s\n", why);
		if (SSL_write(ssl, line, n) > 0) BIO_flush(SSL_get_wbio(ssl));
	}
	exit(REFUSED);
}

/* The only value of a subject field: NULL if the field is missing or repeated. */
static char *only_entry(X509_NAME *name, int nid) {
	int i = X509_NAME_get_index_by_NID(name, nid, -1);
	if (i < 0 || X509_NAME_get_index_by_NID(name, nid, i) >= 0) return NULL;
	ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	unsigned char *utf8 = NULL;
	int n = ASN1_STRING_to_UTF8(&utf8, v);
	if (n < 0) return NULL;
	char *s = strndup((char *)utf8, (size_t)n);
	OPENSSL_free(utf8);
	/* An embedded NUL would let a longer name pass as a shorter one. */
	if (s && strlen(s) != (size_t)n) {
		free(s);
		return NULL;
	}
	return s;
}

/* The peer holds a certificate of the CA for the agent of host `peer`. */
static void check_peer(const char *peer) {
	X509 *cert = SSL_get1_peer_certificate(ssl);
	if (!cert) refuse("the peer presented no certificate");
	long v = SSL_get_verify_result(ssl);
	if (v != X509_V_OK) refuse("the peer's certificate does not verify: %s", X509_verify_cert_error_string(v));
	X509_NAME *name = X509_get_subject_name(cert);
	char *o = only_entry(name, NID_organizationName);
	char *ou = only_entry(name, NID_organizationalUnitName);
	char *cn = only_entry(name, NID_commonName);
	int ok = o && ou && cn && !strcmp(o, "tern") && !strcmp(ou, "agent") && !strcmp(cn, peer);
	if (!ok) refuse("the peer's certificate names %s %s, not agent %s", ou ? ou : "?", cn ? cn : "?", peer);
	free(o);
	free(ou);
	free(cn);
	X509_free(cert);
}

/* The server takes tern's frames when the client offers them. */
static int select_frames(SSL *s, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                         unsigned int inlen, void *arg) {
	(void)s;
	(void)arg;
	unsigned char *sel;
	if (SSL_select_next_proto(&sel, outlen, ALPN_FRAMES, ALPN_FRAMES_LEN, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static void tls_setup(int net, int server, const char *ca, const char *cert, const char *key) {
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx) tls_die("TLS context");
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	/* AES-128-GCM first: it authenticates every record at the lowest cost. */
	SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384");
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) tls_die("CA certificate");
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) tls_die("certificate");
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) tls_die("key");
	if (SSL_CTX_check_private_key(ctx) != 1) tls_die("certificate and key");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/* One stream per connection: no tickets, no resumption, no messages after the handshake. */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_read_buffer_len(ctx, 256 * 1024);
	const char *records = getenv("TERN_RELAY_TLS_RECORDS");
	if (!records || !*records) {
		if (server) SSL_CTX_set_alpn_select_cb(ctx, select_frames, NULL);
		else if (SSL_CTX_set_alpn_protos(ctx, ALPN_FRAMES, ALPN_FRAMES_LEN) != 0) tls_die("ALPN");
	}
	ssl = SSL_new(ctx);
	if (!ssl) tls_die("TLS session");
	/* Records are 16 KiB: written one by one, each would be its own send
	 * (and its own short segment). A buffer in front of the socket sends a
	 * whole batch at once; flush() ends every write. */
	BIO *sock = BIO_new_socket(net, BIO_NOCLOSE);
	BIO *batch = BIO_new(BIO_f_buffer());
	if (!sock || !batch || BIO_set_write_buffer_size(batch, BUF) != 1) tls_die("TLS buffers");
	BIO_up_ref(sock);
	BIO_push(batch, sock);
	SSL_set_bio(ssl, sock, batch);
	/* A silent peer does not hold the handshake forever. */
	struct timeval tv = {HANDSHAKE_SEC, 0};
	setsockopt(net, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(net, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int r = server ? SSL_accept(ssl) : SSL_connect(ssl);
	if (r != 1) {
		unsigned long e = ERR_get_error();
		char msg[256] = "the peer closed the connection";
		if (e) ERR_error_string_n(e, msg, sizeof(msg));
		else if (errno == EAGAIN || errno == EWOULDBLOCK) snprintf(msg, sizeof(msg), "no answer within %d s", HANDSHAKE_SEC);
		refuse("TLS handshake failed: %s", msg);
	}
}

/* After the opening exchange, the stream's own bound is TCP_USER_TIMEOUT. */
static void no_timeouts(int net) {
	struct timeval none = {0, 0};
	setsockopt(net, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
	setsockopt(net, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
}

static int flush(void) {
	return BIO_flush(SSL_get_wbio(ssl)) == 1;
}

static void tls_write_all(const void *p, size_t n) {
	if (SSL_write(ssl, p, (int)n) != (int)n || !flush()) tls_die("TLS write");
}

/* Bytes after an answer line that belong to the stream. */
static char early[ANSWER_MAX];
static size_t early_len;

/* Reads one line (without its newline) inside TLS. */
static void tls_read_line(char *line, size_t max) {
	size_t have = 0;
	for (;;) {
		char *nl = memchr(line, '\n', have);
		if (nl) {
			size_t len = (size_t)(nl - line);
			early_len = have - len - 1;
			memcpy(early, nl + 1, early_len);
			*nl = 0;
			return;
		}
		if (have + 1 >= max) refuse("the peer's opening line is too long");
		int r = SSL_read(ssl, line + have, (int)(max - 1 - have));
		if (r <= 0)
			refuse("the peer closed the connection or said nothing within %d s (refused?)", HANDSHAKE_SEC);
		have += (size_t)r;
	}
}

static void read_credential(const char *file, char *out) {
	FILE *f = fopen(file, "r");
	if (!f) die("credential file");
	size_t n = fread(out, 1, CRED_HEX, f);
	fclose(f);
	if (n != CRED_HEX) {
		errno = EINVAL;
		die("credential file");
	}
	out[CRED_HEX] = 0;
}

/* Sender: present the credential, read the answer. */
static void present(const char *cred) {
	char line[CRED_HEX + 1];
	memcpy(line, cred, CRED_HEX);
	line[CRED_HEX] = '\n';
	tls_write_all(line, sizeof(line));
	char answer[ANSWER_MAX];
	tls_read_line(answer, sizeof(answer));
	if (strcmp(answer, "OK") != 0)
		refuse("the target refused the page stream: %s", strncmp(answer, "ERR ", 4) ? answer : answer + 4);
}

/* Receiver: check the credential, answer. */
static void admit(const char *cred) {
	char line[ANSWER_MAX];
	tls_read_line(line, sizeof(line));
	if (strlen(line) != CRED_HEX || CRYPTO_memcmp(line, cred, CRED_HEX) != 0)
		refuse("not this migration's credential");
	tls_write_all("OK\n", 3);
}

/* ------------------------------------------------------------- frames */

/* Both relays took tern's frames (ALPN) for the stream after the opening exchange. */
static int framed;

struct aead {
	EVP_CIPHER_CTX *ctx;
	unsigned char iv[12];
	unsigned long long seq;
};
static struct aead seal_key, open_key;

static int frames_negotiated(void) {
	const unsigned char *p;
	unsigned int n;
	SSL_get0_alpn_selected(ssl, &p, &n);
	return n == ALPN_FRAMES_LEN - 1 && memcmp(p, ALPN_FRAMES + 1, n) == 0;
}

static void aead_init(struct aead *a, const unsigned char *key, const unsigned char *iv, int sealing) {
	a->ctx = EVP_CIPHER_CTX_new();
	if (!a->ctx) tls_die("cipher");
	int ok = sealing ? EVP_EncryptInit_ex(a->ctx, EVP_aes_128_gcm(), NULL, key, NULL)
	                 : EVP_DecryptInit_ex(a->ctx, EVP_aes_128_gcm(), NULL, key, NULL);
	if (ok != 1) tls_die("cipher");
	memcpy(a->iv, iv, sizeof a->iv);
	a->seq = 0;
}

/* The sender's direction and the receiver's, each a key and an IV, from the TLS session. */
static void frames_keys(int sending) {
	static const char label[] = "EXPORTER-tern-page-stream";
	unsigned char km[2 * (16 + 12)];
	if (SSL_export_keying_material(ssl, km, sizeof km, label, sizeof label - 1, NULL, 0, 0) != 1)
		tls_die("frame keys");
	const unsigned char *fwd = km, *back = km + 28;
	aead_init(&seal_key, sending ? fwd : back, (sending ? fwd : back) + 16, 1);
	aead_init(&open_key, sending ? back : fwd, (sending ? back : fwd) + 16, 0);
	OPENSSL_cleanse(km, sizeof km);
}

/* TLS 1.3's nonce: the IV with the frame's number in its last 8 bytes. */
static void nonce_of(struct aead *a, unsigned char n[12]) {
	memcpy(n, a->iv, 12);
	for (int i = 0; i < 8; i++) n[11 - i] ^= (unsigned char)(a->seq >> (8 * i));
	a->seq++;
}

/* frame = length, then `len` bytes of data (encrypted in place), then the tag. */
static void seal(unsigned char *frame, size_t len) {
	unsigned char n[12];
	int outl;
	nonce_of(&seal_key, n);
	frame[0] = (unsigned char)(len >> 24);
	frame[1] = (unsigned char)(len >> 16);
	frame[2] = (unsigned char)(len >> 8);
	frame[3] = (unsigned char)len;
	EVP_CIPHER_CTX *c = seal_key.ctx;
	if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, n) != 1 || EVP_EncryptUpdate(c, NULL, &outl, frame, FRAME_HDR) != 1 ||
	    (len && EVP_EncryptUpdate(c, frame + FRAME_HDR, &outl, frame + FRAME_HDR, (int)len) != 1) ||
	    EVP_EncryptFinal_ex(c, frame + FRAME_HDR + len, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, FRAME_TAG, frame + FRAME_HDR + len) != 1)
		tls_die("frame seal");
}

/* Decrypts `len` bytes of body in place; 0 unless the tag proves header and body whole. */
static int open_frame(const unsigned char hdr[FRAME_HDR], unsigned char *body, size_t len) {
	unsigned char n[12], end[16];
	int outl;
	nonce_of(&open_key, n);
	EVP_CIPHER_CTX *c = open_key.ctx;
	if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, n) != 1 || EVP_DecryptUpdate(c, NULL, &outl, hdr, FRAME_HDR) != 1 ||
	    (len && EVP_DecryptUpdate(c, body, &outl, body, (int)len) != 1) ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, FRAME_TAG, body + len) != 1)
		tls_die("frame open");
	return EVP_DecryptFinal_ex(c, end, &outl) == 1;
}

/* ---------------------------------------------------------------- pump */

struct pipe_dir {
	int from, to;
	int open;       /* still copying */
	int counted;    /* this direction carries the pages */
	int tls_from;   /* reads come from the TLS stream */
	size_t have, off;
	char *buf;
	/* Reading frames: the header so far, then the body and tag so far. */
	unsigned char hdr[FRAME_HDR];
	size_t hdr_got, body_len, body_got;
};

static unsigned long long counted_bytes;

static void write_length(const char *path) {
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f) die("length file");
	fprintf(f, "%llu\n", counted_bytes);
	if (fclose(f) != 0 || rename(tmp, path) != 0) die("length file");
}

/*
 * With TERN_RELAY_PROGRESS=FILE, the bytes counted so far, rewritten in
 * place at most every 100 ms while the stream runs (a post-copy move shows
 * how much of the memory has arrived). Twenty digits and a newline, so a
 * reader never sees a number cut short.
 */
static int progress_fd = -1;
static void report_progress(int force) {
	static struct timeval last;
	struct timeval now;
	if (progress_fd < 0) return;
	gettimeofday(&now, NULL);
	long ms = (now.tv_sec - last.tv_sec) * 1000 + (now.tv_usec - last.tv_usec) / 1000;
	if (!force && ms < 100) return;
	last = now;
	char line[32];
	int n = snprintf(line, sizeof line, "%020llu\n", counted_bytes);
	if (pwrite(progress_fd, line, (size_t)n, 0) != n) {
		close(progress_fd);
		progress_fd = -1;
	}
}

/* The TLS stream has ended (its end may have come in with the last data). */
static int tls_eof;
/* ... with TLS's closing alert, not a connection that just went away. */
static int tls_closed;

/* Reads what the TLS stream has ready (at least one record); 0 at its end. */
static ssize_t tls_read_some(char *buf, size_t max) {
	size_t got = 0;
	if (tls_eof) return 0;
	do {
		int r = SSL_read(ssl, buf + got, (int)(max - got));
		if (r <= 0) {
			int e = SSL_get_error(ssl, r);
			if (e == SSL_ERROR_ZERO_RETURN ||
			    (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && (errno == 0 || errno == ECONNRESET))) {
				tls_eof = 1;
				tls_closed = e == SSL_ERROR_ZERO_RETURN;
				break;
			}
			if (got > 0) break;
			if (e == SSL_ERROR_SYSCALL) die("read");
			tls_die("TLS read");
		}
		got += (size_t)r;
	} while (got < max && SSL_has_pending(ssl));
	return (ssize_t)got;
}

static void end_direction(struct pipe_dir *p, const char *length) {
	if (p->tls_from) shutdown(p->to, SHUT_WR);
	else if (framed) {
		unsigned char end[FRAME_HDR + FRAME_TAG];
		seal(end, 0);
		if (write(p->to, end, sizeof end) != (ssize_t)sizeof end && p->counted) die("write the end frame");
	} else {
		SSL_shutdown(ssl);
		flush();
	}
	/* Pages cut off without the sender's closing alert (or end frame) are no whole stream: no length. */
	report_progress(1);
	if (p->counted && (!p->tls_from || tls_closed)) write_length(length);
	else if (p->counted)
		fprintf(stderr, "tern-relay: the page stream ended without %s\n",
		        framed ? "its end frame" : "TLS's closing alert");
	p->open = 0;
}

/*
 * Reads from the network toward the next frame; once one is whole and
 * authentic its data is p->buf[0, have). Returns -1 while it is incomplete,
 * 0 at the stream's end (the end frame: tls_closed; the connection gone:
 * not), else the frame's length. The first read waits (poll said there is
 * something); the ones after it take only what has arrived, so a frame that
 * came whole costs no further poll.
 */
static ssize_t frame_read(struct pipe_dir *p) {
	for (int flags = 0;; flags = MSG_DONTWAIT) {
		ssize_t r;
		if (p->hdr_got < FRAME_HDR)
			r = recv(p->from, p->hdr + p->hdr_got, FRAME_HDR - p->hdr_got, flags);
		else
			r = recv(p->from, p->buf + p->body_got, p->body_len + FRAME_TAG - p->body_got, flags);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) return -1;
			if (errno != ECONNRESET) die("read");
			r = 0;
		}
		if (r == 0) {
			if (p->hdr_got || p->body_got) fprintf(stderr, "tern-relay: the stream ended inside a frame\n");
			return 0;
		}
		if (p->hdr_got < FRAME_HDR) {
			p->hdr_got += (size_t)r;
			if (p->hdr_got < FRAME_HDR) continue;
			p->body_len = (size_t)p->hdr[0] << 24 | (size_t)p->hdr[1] << 16 | (size_t)p->hdr[2] << 8 | p->hdr[3];
			if (p->body_len > BUF) {
				errno = EPROTO;
				die("a frame longer than 1 MiB");
			}
			p->body_got = 0;
			continue;
		}
		p->body_got += (size_t)r;
		if (p->body_got < p->body_len + FRAME_TAG) continue;
		if (!open_frame(p->hdr, (unsigned char *)p->buf, p->body_len)) {
			errno = EBADMSG;
			die("a frame of the stream failed authentication");
		}
		size_t len = p->body_len;
		p->hdr_got = 0;
		p->body_got = 0;
		if (len == 0) tls_closed = 1;
		return (ssize_t)len;
	}
}

/* Copies what is ready on one direction; returns 0 when it has ended. */
static int pump(struct pipe_dir *p, const char *length) {
	if (p->have == p->off) {
		ssize_t r;
		if (p->tls_from && framed) {
			r = frame_read(p);
			if (r < 0) return 1;
		} else if (p->tls_from) {
			r = tls_read_some(p->buf, BUF);
		} else {
			/* Framed, the data goes right behind the header: sealed in place. */
			r = read(p->from, p->buf + (framed ? FRAME_HDR : 0), BUF);
			if (r < 0) {
				if (errno == EINTR || errno == EAGAIN) return 1;
				if (errno != ECONNRESET) die("read");
				r = 0;
			}
		}
		if (r == 0) {
			end_direction(p, length);
			return 0;
		}
		if (p->counted) {
			counted_bytes += (unsigned long long)r;
			report_progress(0);
		}
		p->have = (size_t)r;
		p->off = 0;
		if (framed && !p->tls_from) {
			seal((unsigned char *)p->buf, (size_t)r);
			p->have += FRAME_HDR + FRAME_TAG;
		}
	}
	if (!p->tls_from) {
		/* To the network: the sealed frame in one write (a blocking socket:
		 * all of it, or the peer is gone), or SSL_write, which returns once
		 * all of it is sent. */
		ssize_t w;
		if (framed) {
			w = write(p->to, p->buf + p->off, p->have - p->off);
			if (w < 0 && errno == EINTR) return 1;
		} else {
			w = SSL_write(ssl, p->buf + p->off, (int)(p->have - p->off));
			if (w > 0 && !flush()) w = -1;
		}
		if (w <= 0) {
			p->open = 0;
			if (p->counted) {
				errno = EPIPE;
				die("peer closed the page stream early");
			}
			return 0;
		}
		p->off += (size_t)w;
		return 1;
	}
	ssize_t w = write(p->to, p->buf + p->off, p->have - p->off);
	if (w < 0) {
		if (errno == EINTR || errno == EAGAIN) return 1;
		if (errno == EPIPE || errno == ECONNRESET) {
			p->open = 0;
			if (p->counted) die("peer closed the page stream early");
			return 0;
		}
		die("write");
	}
	p->off += (size_t)w;
	return 1;
}

/*
 * A socket buffer of `size` bytes each way. The default (about 200 KiB for
 * the socket pair) makes CRIU and the relay wait on each other every few
 * records; FORCE needs CAP_NET_ADMIN, else the sysctl maximum applies.
 */
static void big_buffers(int fd, int size) {
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

#define LOCAL_BUF (4 << 20)
#define NET_BUF (16 << 20)
#define ARGS 10

int main(int argc, char **argv) {
	if (argc < ARGS + 2 || strcmp(argv[ARGS], "--") != 0 || (strcmp(argv[1], "send") && strcmp(argv[1], "recv"))) {
		fprintf(stderr,
		        "usage: tern-relay send|recv NET_FD LOCAL_FD DIGEST_FILE CA CERT KEY PEER CRED_FILE -- COMMAND...\n");
		return 125;
	}
	int sending = strcmp(argv[1], "send") == 0;
	int net = atoi(argv[2]);
	int local_fd = atoi(argv[3]);
	const char *length = argv[4];
	char cred[CRED_HEX + 1];
	read_credential(argv[9], cred);
	int fl = fcntl(net, F_GETFL);
	if (fl < 0 || fcntl(net, F_SETFL, fl & ~O_NONBLOCK) < 0) die("network socket");
	const char *t = getenv("TERN_RELAY_TIMEOUT_MS");
	unsigned int user_timeout = t && *t ? (unsigned int)strtoul(t, NULL, 10) : 30000;
	/* Not a TCP socket (a test's socket pair): nothing to bound. */
	setsockopt(net, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout));
	/* A stream of hundreds of MiB: room for a few milliseconds of it in flight each way. */
	big_buffers(net, NET_BUF);
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {0};
	sa.sa_handler = forward_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	tls_setup(net, !sending, argv[5], argv[6], argv[7]);
	answer_refusals = !sending;
	check_peer(argv[8]);
	framed = frames_negotiated();
	/* Framed, the bytes after the answer are frames, not TLS records: TLS
	 * must not read ahead into them. */
	if (framed) SSL_set_read_ahead(ssl, 0);
	if (sending) present(cred);
	else admit(cred);
	if (framed) {
		if (early_len > 0) {
			errno = EPROTO;
			die("stream bytes inside TLS after the answer");
		}
		frames_keys(sending);
	}
	no_timeouts(net);
	const char *progress = getenv("TERN_RELAY_PROGRESS");
	if (progress && *progress) {
		progress_fd = open(progress, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		report_progress(1);
	}
	/* Held: the stream is open and admitted, the command waits for `go` on stdin. */
	const char *hold = getenv("TERN_RELAY_HOLD");
	if (hold && !strcmp(hold, "stdin")) {
		char line[8] = "";
		size_t got = 0;
		while (got < sizeof line - 1) {
			ssize_t r = read(0, line + got, 1);
			if (r < 0 && errno == EINTR) continue;
			if (r <= 0 || line[got] == '\n') break;
			got++;
		}
		line[got] = 0;
		if (strcmp(line, "go") != 0) {
			fprintf(stderr, "tern-relay: released without starting the command\n");
			return 125;
		}
	}

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) die("socketpair");
	/* Room for CRIU to go on while the relay encrypts or waits on the network. */
	for (int i = 0; i < 2; i++) big_buffers(sv[i], LOCAL_BUF);
	/* A stop signal between fork and knowing the child's pid waits until it is known. */
	sigset_t stops, before;
	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	sigprocmask(SIG_BLOCK, &stops, &before);
	child = fork();
	if (child < 0) die("fork");
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &before, NULL);
		/* dup2 onto itself would keep close-on-exec: clear it instead. */
		if (sv[1] == local_fd ? fcntl(local_fd, F_SETFD, 0) < 0 : dup2(sv[1], local_fd) < 0) die("dup2");
		close(net);
		execvp(argv[ARGS + 1], argv + ARGS + 1);
		die("exec");
	}
	sigprocmask(SIG_SETMASK, &before, NULL);
	close(sv[1]);
	/* Room for a frame's header and tag around its data. */
	struct pipe_dir out = {sv[0], net, 1, sending, 0, 0, 0, malloc(BUF + 64), {0}, 0, 0, 0};
	struct pipe_dir in = {net, sv[0], 1, !sending, 1, 0, 0, malloc(BUF + 64), {0}, 0, 0, 0};
	if (!out.buf || !in.buf) die("malloc");
	/* Stream bytes that came with the answer line go first. */
	if (early_len > 0) {
		memcpy(in.buf, early, early_len);
		if (in.counted) counted_bytes += early_len;
		in.have = early_len;
	}
	/* Copy until the counted direction has ended and the command has exited;
	 * the other direction only carries CRIU's short answers. */
	int status = 0, exited = 0;
	while (!exited || out.open || in.open) {
		if (!exited) {
			pid_t w = waitpid(child, &status, WNOHANG);
			if (w == child) exited = 1;
		}
		struct pollfd fds[2];
		int n = 0;
		struct pipe_dir *dirs[2];
		/* Decrypted or buffered TLS bytes do not show on the socket. */
		int ready = !framed && in.open && in.have == in.off && (tls_eof || SSL_has_pending(ssl));
		if (out.open) {
			fds[n] = (struct pollfd){out.have == out.off ? out.from : out.to, out.have == out.off ? POLLIN : POLLOUT, 0};
			dirs[n++] = &out;
		}
		if (in.open) {
			fds[n] = (struct pollfd){in.have == in.off ? in.from : in.to, in.have == in.off ? POLLIN : POLLOUT, 0};
			dirs[n++] = &in;
		}
		if (n == 0) {
			if (!exited && waitpid(child, &status, 0) == child) exited = 1;
			continue;
		}
		int r = poll(fds, n, ready ? 0 : exited ? 1000 : 200);
		if (r < 0 && errno != EINTR) die("poll");
		if (r == 0 && !ready && exited) {
			/* The command is gone and its peer went quiet: what is left cannot be delivered. */
			struct pipe_dir *h = sending ? &out : &in;
			if (h->open) {
				fprintf(stderr, "tern-relay: page stream unfinished when the command exited\n");
				return 125;
			}
			break;
		}
		for (int i = 0; i < n; i++)
			if (fds[i].revents || (dirs[i] == &in && ready)) pump(dirs[i], length);
	}
	if (WIFEXITED(status)) return WEXITSTATUS(status);
	if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
	return 125;
}
