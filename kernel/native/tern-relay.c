// tern-relay: runs a CRIU command whose page-server connection goes through
// an already connected network socket, and hashes the page stream on its way.
//
//   tern-relay send|recv NET_FD LOCAL_FD DIGEST_FILE -- criu ... --ps-socket LOCAL_FD
//
// The agent opens and authenticates the TCP connection to its peer and hands
// it over as NET_FD. tern-relay makes it blocking (CRIU needs that), creates
// a socket pair, runs the command with one end as LOCAL_FD, and copies bytes
// between the other end and NET_FD in both directions. The direction that
// carries pages (CRIU -> network when sending, network -> CRIU when
// receiving) goes through SHA-256; when that direction ends, the byte count
// and digest are written to DIGEST_FILE as `<bytes> <sha256 hex>\n`, so the
// source and the target can prove they saw the same stream. tern-relay exits
// with the command's status; SIGTERM and SIGINT are passed on to it.
//
// A peer that stops acknowledging (a cut link, a dead host) ends the stream
// after $TERN_RELAY_TIMEOUT_MS (default 30000) instead of the kernel's many
// minutes of retransmissions (TCP_USER_TIMEOUT): CRIU then fails, and a dump
// that fails unfreezes its tree.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BUF (1 << 20)

static pid_t child = -1;

static void forward_signal(int sig) {
	if (child > 0) kill(child, sig);
}

static void die(const char *what) {
	fprintf(stderr, "tern-relay: %s: %s\n", what, strerror(errno));
	exit(125);
}

struct pipe_dir {
	int from, to;
	int open;       /* still copying */
	int hashed;     /* this direction carries the pages */
	size_t have, off;
	char *buf;
};

static unsigned long long hashed_bytes;
static EVP_MD_CTX *md;

static void write_digest(const char *path) {
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	EVP_DigestFinal_ex(md, d, &n);
	for (unsigned int i = 0; i < n; i++) sprintf(hex + 2 * i, "%02x", d[i]);
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f) die("digest file");
	fprintf(f, "%llu %s\n", hashed_bytes, hex);
	if (fclose(f) != 0 || rename(tmp, path) != 0) die("digest file");
}

/* Copies what is ready on one direction; returns 0 when it has ended. */
static int pump(struct pipe_dir *p, const char *digest) {
	if (p->have == p->off) {
		ssize_t r = read(p->from, p->buf, BUF);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN) return 1;
			if (errno != ECONNRESET) die("read");
			r = 0;
		}
		if (r == 0) {
			shutdown(p->to, SHUT_WR);
			if (p->hashed) write_digest(digest);
			p->open = 0;
			return 0;
		}
		if (p->hashed) {
			EVP_DigestUpdate(md, p->buf, (size_t)r);
			hashed_bytes += (unsigned long long)r;
		}
		p->have = (size_t)r;
		p->off = 0;
	}
	ssize_t w = write(p->to, p->buf + p->off, p->have - p->off);
	if (w < 0) {
		if (errno == EINTR || errno == EAGAIN) return 1;
		if (errno == EPIPE || errno == ECONNRESET) {
			p->open = 0;
			if (p->hashed) die("peer closed the page stream early");
			return 0;
		}
		die("write");
	}
	p->off += (size_t)w;
	return 1;
}

int main(int argc, char **argv) {
	if (argc < 7 || strcmp(argv[5], "--") != 0 || (strcmp(argv[1], "send") && strcmp(argv[1], "recv"))) {
		fprintf(stderr, "usage: tern-relay send|recv NET_FD LOCAL_FD DIGEST_FILE -- COMMAND...\n");
		return 125;
	}
	int sending = strcmp(argv[1], "send") == 0;
	int net = atoi(argv[2]);
	int local_fd = atoi(argv[3]);
	const char *digest = argv[4];
	int fl = fcntl(net, F_GETFL);
	if (fl < 0 || fcntl(net, F_SETFL, fl & ~O_NONBLOCK) < 0) die("network socket");
	const char *t = getenv("TERN_RELAY_TIMEOUT_MS");
	unsigned int user_timeout = t && *t ? (unsigned int)strtoul(t, NULL, 10) : 30000;
	/* Not a TCP socket (a test's socket pair): nothing to bound. */
	setsockopt(net, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout));
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) die("socketpair");
	signal(SIGPIPE, SIG_IGN);
	child = fork();
	if (child < 0) die("fork");
	if (child == 0) {
		/* dup2 onto itself would keep close-on-exec: clear it instead. */
		if (sv[1] == local_fd ? fcntl(local_fd, F_SETFD, 0) < 0 : dup2(sv[1], local_fd) < 0) die("dup2");
		close(net);
		execvp(argv[6], argv + 6);
		die("exec");
	}
	close(sv[1]);
	struct sigaction sa = {0};
	sa.sa_handler = forward_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) die("sha256");
	struct pipe_dir out = {sv[0], net, 1, sending, 0, 0, malloc(BUF)};
	struct pipe_dir in = {net, sv[0], 1, !sending, 0, 0, malloc(BUF)};
	if (!out.buf || !in.buf) die("malloc");
	/* Copy until the hashed direction has ended and the command has exited;
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
		int r = poll(fds, n, exited ? 1000 : 200);
		if (r < 0 && errno != EINTR) die("poll");
		if (r == 0 && exited) {
			/* The command is gone and its peer went quiet: what is left cannot be delivered. */
			struct pipe_dir *h = sending ? &out : &in;
			if (h->open) {
				fprintf(stderr, "tern-relay: page stream unfinished when the command exited\n");
				return 125;
			}
			break;
		}
		for (int i = 0; i < n; i++)
			if (fds[i].revents) pump(dirs[i], digest);
	}
	if (WIFEXITED(status)) return WEXITSTATUS(status);
	if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
	return 125;
}
