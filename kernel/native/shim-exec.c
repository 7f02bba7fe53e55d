// tern-shim exec: runs a command inside a running container, confined as
// the container's own processes are (shim-confine.c), for `tern exec`.
//
//   tern-shim exec --pid PID [--cap-add CAP]... [--no-seccomp 1] [--cgroup PROCS_FILE]... -- CMD [ARGS...]
//
// Joins the container's cgroups (each --cgroup names a cgroup.procs file,
// so the command counts against the container's limits), enters the ipc, uts, net, pid and mount namespaces of PID (the
// container's init), forks so that the command is in the container's pid
// namespace, drops capabilities there and execs. Exits with the command's
// status (128 + signal if it was killed); the command dies with the shim.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim.h"

int do_exec(int argc, char **argv)
{
	static const char *const NS[] = { "ipc", "uts", "net", "pid", "mnt" };
	int fds[sizeof NS / sizeof NS[0]];
	unsigned long long add = 0;
	int no_seccomp = 0;
	long pid = 0;
	int i;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--"))
			break;
		if (i + 1 >= argc)
			usage("missing value for option");
		if (!strcmp(a, "--pid")) {
			char *end;
			pid = strtol(argv[++i], &end, 10);
			if (*end || pid <= 0)
				usage("--pid: not a pid");
		} else if (!strcmp(a, "--cap-add")) {
			int cap = cap_by_name(argv[++i]);
			if (cap < 0)
				usage("--cap-add: unknown capability");
			add |= 1ULL << cap;
		} else if (!strcmp(a, "--cgroup")) {
			const char *procs = argv[++i];
			int fd = open(procs, O_WRONLY | O_CLOEXEC);
			if (fd < 0 || write(fd, "0", 1) != 1) {
				fprintf(stderr, "tern-shim exec: cannot join cgroup %s: %s\n", procs, strerror(errno));
				return 126;
			}
			close(fd);
		} else if (!strcmp(a, "--no-seccomp")) {
			no_seccomp = strcmp(argv[++i], "0") != 0;
		} else
			usage("unknown exec option");
	}
	if (!pid || i + 1 >= argc)
		usage("exec needs --pid and -- CMD");
	char **cmd = argv + i + 1;

	// Every namespace is opened before any is entered: once in the
	// container's mount namespace, /proc/PID names another process.
	for (size_t n = 0; n < sizeof NS / sizeof NS[0]; n++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%ld/ns/%s", pid, NS[n]);
		fds[n] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[n] < 0) {
			fprintf(stderr, "tern-shim exec: %s: %s\n", path, strerror(errno));
			return 126;
		}
	}
	for (size_t n = 0; n < sizeof NS / sizeof NS[0]; n++) {
		if (setns(fds[n], 0) < 0) {
			fprintf(stderr, "tern-shim exec: entering the %s namespace: %s\n", NS[n], strerror(errno));
			return 126;
		}
		close(fds[n]);
	}
	if (chdir("/") < 0) {
		fprintf(stderr, "tern-shim exec: chdir /: %s\n", strerror(errno));
		return 126;
	}

	pid_t child = fork();
	if (child < 0) {
		fprintf(stderr, "tern-shim exec: fork: %s\n", strerror(errno));
		return 126;
	}
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (confine_caps(add) < 0 || (!no_seccomp && confine_seccomp(add) < 0)) {
			fprintf(stderr, "tern-shim exec: confining: %s\n", strerror(errno));
			_exit(126);
		}
		execvp(cmd[0], cmd);
		fprintf(stderr, "tern-shim exec: %s: %s\n", cmd[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	int st;
	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR)
			return 126;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
