/*
 * zdtm-init: pid 1 of a compatibility container.
 *
 *   zdtm-init DIR TEST [ARG...]
 *
 * Enters DIR and starts TEST with its arguments. A zdtm test daemonizes: the
 * started process exits once the test has set up its state, leaving the test
 * (whose pid it wrote to the --pidfile) running. zdtm-init records the launcher's
 * status in TEST.started, then stays as the namespace's reaper; when it reaps the
 * test itself it records how it ended in TEST.exit ("exit N" or "signal N").
 * Both files are written whole (temp file, then rename), so a reader never sees
 * half a status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

static void put(const char *test, const char *suffix, const char *text)
{
	char path[512], tmp[520];
	snprintf(path, sizeof path, "%s.%s", test, suffix);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%s\n", text);
	fclose(f);
	rename(tmp, path);
}

static void status_text(int st, char *buf, size_t len)
{
	if (WIFEXITED(st))
		snprintf(buf, len, "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "signal %d", WTERMSIG(st));
	else
		snprintf(buf, len, "status %d", st);
}

static pid_t test_pid(const char *test)
{
	char path[512];
	snprintf(path, sizeof path, "%s.pid", test);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long pid = -1;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = -1;
	fclose(f);
	return (pid_t)pid;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: zdtm-init DIR TEST [ARG...]\n");
		return 2;
	}
	if (chdir(argv[1]) < 0) {
		perror("chdir");
		return 2;
	}
	/*
	 * tern leaves /proc/sys read-only in a container; zdtm's tests set some of
	 * its entries (ns_last_pid and the like), as they do under CRIU's own
	 * runner. This container was given CAP_SYS_ADMIN (ZDTM_CAPS), so it can
	 * make its own view writable again, as any container with that flag could.
	 */
	if (mount(NULL, "/proc/sys", NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		perror("remount /proc/sys read-write");
	const char *test = argv[2];
	const char *base = strrchr(test, '/') ? strrchr(test, '/') + 1 : test;
	char buf[64];

	pid_t launcher = fork();
	if (launcher < 0) {
		perror("fork");
		return 2;
	}
	if (launcher == 0) {
		execv(test, argv + 2);
		perror("execv");
		_exit(127);
	}

	pid_t tpid = -1;
	for (;;) {
		int st;
		pid_t p = wait(&st);
		if (p < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD) {
				/* Nothing left to reap: stay as the namespace's init. */
				sleep(1);
				continue;
			}
			return 1;
		}
		status_text(st, buf, sizeof buf);
		if (p == launcher) {
			put(base, "started", buf);
			tpid = test_pid(base);
		} else if (p == tpid || (tpid < 0 && (tpid = test_pid(base)) == p)) {
			put(base, "exit", buf);
		}
	}
}
