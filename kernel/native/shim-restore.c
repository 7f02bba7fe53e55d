// tern-shim restore: runs criu restore so the restored tree is re-parented to
// the shim, confirms the tree, then reaps it (see tern-shim.c for the usage).
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

/* ---------------- restore ---------------- */

// SIGTERM while criu restores cancels the restore: criu dies at once and
// everything it created is killed (see kill_children). Once the restored tree
// is confirmed, SIGTERM is ignored again like in every other shim.
static volatile sig_atomic_t cancelled;
static volatile pid_t criu_pid;

static void on_cancel(int sig)
{
	(void)sig;
	cancelled = 1;
	if (criu_pid > 0)
		kill(criu_pid, SIGKILL);
}

static void block_cancel(int how)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGTERM);
	sigprocmask(how, &s, NULL);
}

/*
 * Kills every child and reaps it until none is left. As a child subreaper the
 * shim inherits whatever a dead criu leaves behind (the restored root and any
 * helper); the restored root is the init of its pid namespace, so killing it
 * takes every task of the namespace with it.
 */
static void kill_children(void)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	for (int round = 0; round < 2000; round++) {
		FILE *f = fopen(path, "r");
		long p;
		if (f) {
			while (fscanf(f, "%ld", &p) == 1)
				kill((pid_t)p, SIGKILL);
			fclose(f);
		}
		int st;
		pid_t r;
		while ((r = waitpid(-1, &st, WNOHANG)) > 0)
			;
		if (r < 0 && errno == ECHILD)
			return;
		nanosleep(&ts, NULL);
	}
}

static pid_t read_pidfile(const char *file)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	for (int tries = 0; tries < 100; tries++) {
		FILE *f = fopen(file, "r");
		long v = 0;
		if (f) {
			int ok = fscanf(f, "%ld", &v);
			fclose(f);
			if (ok == 1 && v > 0)
				return v;
		}
		nanosleep(&ts, NULL);
	}
	return -1;
}

static pid_t parent_of(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	long ppid = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "PPid: %ld", &ppid) == 1)
			break;
	fclose(f);
	return ppid;
}

int do_restore(int argc, char **argv)
{
	const char *pidfile = NULL, *exit_file = NULL, *log = NULL;
	int i;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--"))
			break;
		if (i + 1 >= argc)
			usage("missing value for option");
		if (!strcmp(a, "--pidfile"))
			pidfile = argv[++i];
		else if (!strcmp(a, "--exit-file"))
			exit_file = argv[++i];
		else if (!strcmp(a, "--log"))
			log = argv[++i];
		else
			usage("unknown restore option");
	}
	if (i + 1 >= argc)
		usage("missing -- CRIU_PATH");
	if (!pidfile)
		usage("restore needs --pidfile");
	char **cargv = argv + i + 1;

	common_start();

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_cancel; // no SA_RESTART: waitpid returns on SIGTERM
	sigemptyset(&sa.sa_mask);
	block_cancel(SIG_BLOCK);
	sigaction(SIGTERM, &sa, NULL);

	pid_t criu = fork();
	if (criu < 0) {
		printf("error: fork: %s\n", strerror(errno));
		return 1;
	}
	if (criu == 0) {
		signal(SIGTERM, SIG_DFL);
		block_cancel(SIG_UNBLOCK);
		int in = open("/dev/null", O_RDONLY);
		int out = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0644)
			      : open("/dev/null", O_WRONLY);
		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
		    dup2(out, 2) < 0)
			_exit(127);
		close_from(3, ~0U);
		set_signals(SIG_DFL);
		execv(cargv[0], cargv);
		dprintf(2, "tern-shim: exec %s: %s\n", cargv[0], strerror(errno));
		_exit(127);
	}

	criu_pid = criu;
	if (cancelled)
		kill(criu, SIGKILL);
	block_cancel(SIG_UNBLOCK);

	int st;
	while (waitpid(criu, &st, 0) < 0)
		if (errno != EINTR) {
			printf("error: waitpid criu: %s\n", strerror(errno));
			kill(criu, SIGKILL);
			kill_children();
			return 1;
		}
	block_cancel(SIG_BLOCK);
	criu_pid = 0;
	if (cancelled) {
		kill_children();
		printf("error: cancelled\n");
		return 1;
	}
	// A restore that failed or was cut short must leave nothing running:
	// criu cleans up after its own errors, but not when it is killed.
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		if (WIFSIGNALED(st))
			printf("error: criu killed by signal %d\n", WTERMSIG(st));
		else
			printf("error: criu exited with status %d\n", WEXITSTATUS(st));
		kill_children();
		return 1;
	}

	pid_t pid = read_pidfile(pidfile);
	if (pid < 0) {
		printf("error: no pid in %s\n", pidfile);
		kill_children();
		return 1;
	}
	// criu has exited, so any re-parenting to us has already happened.
	if (parent_of(pid) != getpid()) {
		printf("error: restored task %d is not a child of the shim\n", pid);
		kill(pid, SIGKILL);
		kill_children();
		return 1;
	}
	sigset_t pending;
	sigpending(&pending);
	if (sigismember(&pending, SIGTERM)) {
		kill_children();
		printf("error: cancelled\n");
		return 1;
	}
	// From here on the shim is the tree's reaper and ignores SIGTERM again.
	signal(SIGTERM, SIG_IGN);
	block_cancel(SIG_UNBLOCK);
	printf("pid %d\nok\n", pid);
	fflush(stdout);
	devnull_stdio();
	return reap_until(pid, exit_file);
}
