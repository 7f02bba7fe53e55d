// tern-shim helpers both modes use: arguments, fds, signals, reaping.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "shim.h"

void usage(const char *msg)
{
	fprintf(stderr, "tern-shim: %s\n"
		"usage: tern-shim launch --rootfs DIR --hostname NAME --console PATH"
		" [--env K=V]... [--exit-file FILE] -- CMD [ARGS...]\n"
		"       tern-shim restore --pidfile FILE [--exit-file FILE] [--log FILE]"
		" -- CRIU_PATH ARGS...\n", msg);
	exit(2);
}

void close_from(unsigned int first, unsigned int last)
{
	if (first > last)
		return;
	if (close_range(first, last, 0) == 0)
		return;
	struct rlimit rl;
	unsigned int max = 65536;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max = rl.rlim_cur;
	for (unsigned int fd = first; fd <= last && fd < max; fd++)
		close(fd);
}

int devnull_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		if (fd != i && dup2(fd, i) < 0)
			return -1;
	if (fd > 2)
		close(fd);
	return 0;
}

void set_signals(__sighandler_t h)
{
	signal(SIGHUP, h);
	signal(SIGPIPE, h);
	signal(SIGTERM, h);
}

void common_start(void)
{
	close_from(3, ~0U);
	sigset_t none; // a blocked mask would be inherited by the container
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	// A closed 0/1/2 would let a pipe land there and be clobbered later.
	for (int i = 0; i < 3; i++)
		if (fcntl(i, F_GETFD) < 0 && open("/dev/null", O_RDWR) != i)
			exit(1);
	set_signals(SIG_IGN);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("tern-shim: prctl(PR_SET_CHILD_SUBREAPER)");
		exit(1);
	}
	setsid();
}

void write_exit_file(const char *file, int st)
{
	if (!file)
		return;
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", file) >= (int)sizeof tmp)
		return;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	if (WIFSIGNALED(st))
		fprintf(f, "signaled %d\n", WTERMSIG(st));
	else
		fprintf(f, "exited %d\n", WEXITSTATUS(st));
	if (fclose(f) == 0)
		rename(tmp, file);
}

// Reap every child (re-parented orphans included) until `target` dies.
int reap_until(pid_t target, const char *exit_file)
{
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, 0);
		if (p < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (p == target) {
			write_exit_file(exit_file, st);
			return 0;
		}
	}
}
