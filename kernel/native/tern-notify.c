/*
 * tern-notify: tells systemd that the daemon whose pid is given is ready
 * (sd_notify "READY=1" with MAINPID), on $NOTIFY_SOCKET.
 *
 * A daemon written for Node cannot send a datagram on a unix socket itself,
 * so it runs this helper (the unit has NotifyAccess=all). systemd finds the
 * unit of a notification from the sender's pid: the helper stays a moment
 * after sending, so that the sender still exists when systemd reads it.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
	const char *path = getenv("NOTIFY_SOCKET");
	char *end = NULL;
	long pid = argc == 2 ? strtol(argv[1], &end, 10) : 0;
	if (argc != 2 || !end || *end || pid <= 0) {
		fprintf(stderr, "usage: NOTIFY_SOCKET=... tern-notify MAINPID\n");
		return 2;
	}
	if (!path || !*path) return 0;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(path);
	if (n >= sizeof(sa.sun_path) || (path[0] != '/' && path[0] != '@')) {
		fprintf(stderr, "tern-notify: NOTIFY_SOCKET is not a socket path: %s\n", path);
		return 1;
	}
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@') sa.sun_path[0] = '\0'; /* abstract namespace */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("tern-notify: socket");
		return 1;
	}
	char msg[64];
	int len = snprintf(msg, sizeof msg, "READY=1\nMAINPID=%ld\n", pid);
	if (sendto(fd, msg, (size_t)len, 0, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) != len) {
		perror("tern-notify: sendto");
		return 1;
	}
	sleep(2);
	return 0;
}
