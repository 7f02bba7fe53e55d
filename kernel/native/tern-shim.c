// tern-shim: per-container parent process. It sets up the container's
// namespaces (Node.js cannot clone/pivot_root) and, as a child subreaper,
// reaps the container init, because the host's orphan adopter never does.
//
//   tern-shim launch --rootfs DIR --hostname NAME --console PATH
//                    [--env K=V]... [--exit-file FILE] -- CMD [ARGS...]
//   tern-shim restore --pidfile FILE [--exit-file FILE] [--log FILE]
//                    -- CRIU_PATH ARGS...
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

#define MAX_ENV 256
#define STACK_SIZE (1024 * 1024)

struct launch_cfg {
	const char *rootfs, *hostname, *console;
	const char *env[MAX_ENV];
	int nenv;
	char **argv;
	int go_r, err_w;
};

static void usage(const char *msg)
{
	fprintf(stderr, "tern-shim: %s\n"
		"usage: tern-shim launch --rootfs DIR --hostname NAME --console PATH"
		" [--env K=V]... [--exit-file FILE] -- CMD [ARGS...]\n"
		"       tern-shim restore --pidfile FILE [--exit-file FILE] [--log FILE]"
		" -- CRIU_PATH ARGS...\n", msg);
	exit(2);
}

static void close_from(unsigned int first, unsigned int last)
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

static int devnull_stdio(void)
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

static void set_signals(__sighandler_t h)
{
	signal(SIGHUP, h);
	signal(SIGPIPE, h);
	signal(SIGTERM, h);
}

static void common_start(void)
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

static void write_exit_file(const char *file, int st)
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
static int reap_until(pid_t target, const char *exit_file)
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

/* ---------------- launch: container init side ---------------- */

static int child_err_fd = -1;

static void __attribute__((noreturn)) fail(const char *step)
{
	char buf[512];
	int n = snprintf(buf, sizeof buf, "%s: %s", step, strerror(errno));
	if (n > (int)sizeof buf - 1)
		n = sizeof buf - 1;
	if (write(child_err_fd, buf, n) < 0) {
	} // nowhere left to report it
	_exit(127);
}

static void mkdir_ok(const char *path, const char *step)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		fail(step);
}

static void make_dev_entries(const char *rootfs)
{
	static const struct { const char *name; unsigned maj, min; } devs[] = {
		{ "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
		{ "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
	};
	static const struct { const char *name, *target; } links[] = {
		{ "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
		{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
	};
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/dev", rootfs);
	mkdir_ok(path, "mkdir dev");
	for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
		snprintf(path, sizeof path, "%s/dev/%s", rootfs, devs[i].name);
		if (mknod(path, S_IFCHR | 0666, makedev(devs[i].maj, devs[i].min)) < 0) {
			if (errno != EEXIST)
				fail("mknod");
		} else if (chmod(path, 0666) < 0) { // undo the umask
			fail("chmod dev");
		}
	}
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
		snprintf(path, sizeof path, "%s/dev/%s", rootfs, links[i].name);
		if (symlink(links[i].target, path) < 0 && errno != EEXIST)
			fail("symlink dev");
	}
	snprintf(path, sizeof path, "%s/proc", rootfs);
	mkdir_ok(path, "mkdir proc");
	snprintf(path, sizeof path, "%s/tmp", rootfs);
	mkdir_ok(path, "mkdir tmp");
}

/*
 * What programs expect under /dev beside device nodes: a private devpts
 * instance (ptys, with /dev/ptmx pointing into it), a tmpfs for POSIX shared
 * memory, and the POSIX message queue filesystem. CRIU dumps and restores all
 * three with the container's mount namespace.
 */
static void mount_dev_filesystems(void)
{
	mkdir_ok("/dev/pts", "mkdir /dev/pts");
	if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620") < 0)
		fail("mount devpts");
	if (unlink("/dev/ptmx") < 0 && errno != ENOENT)
		fail("unlink /dev/ptmx");
	if (symlink("pts/ptmx", "/dev/ptmx") < 0)
		fail("symlink /dev/ptmx");
	mkdir_ok("/dev/shm", "mkdir /dev/shm");
	if (mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=65536k") < 0)
		fail("mount /dev/shm");
	mkdir_ok("/dev/mqueue", "mkdir /dev/mqueue");
	if (mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		fail("mount /dev/mqueue");
}

static void mkdir_parents(const char *file)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s", file);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir_ok(path, "mkdir console dir");
		*p = '/';
	}
}

static int container_init(void *arg)
{
	struct launch_cfg *c = arg;
	char go;

	child_err_fd = c->err_w;
	if (read(c->go_r, &go, 1) != 1)
		_exit(1); // shim gave up before "go"
	close(c->go_r);

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail("make / private");
	make_dev_entries(c->rootfs);
	if (mount(c->rootfs, c->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		fail("bind rootfs");
	if (chdir(c->rootfs) < 0)
		fail("chdir rootfs");
	// Stack the new root over the old one, then detach the old one:
	// no put_old directory needed inside the rootfs.
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		fail("pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		fail("umount old root");
	if (chdir("/") < 0)
		fail("chdir /");
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		fail("mount proc");
	mount_dev_filesystems();
	if (sethostname(c->hostname, strlen(c->hostname)) < 0)
		fail("sethostname");
	// The shim's session lies outside our pid namespace; CRIU cannot
	// restore a sid it cannot see, so the init leads its own session.
	if (setsid() < 0)
		fail("setsid");

	mkdir_parents(c->console);
	int fd = open(c->console, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0)
		fail("open console");
	if (dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		fail("dup2 console");
	fd = open("/dev/null", O_RDONLY);
	if (fd < 0)
		fail("open /dev/null");
	if (dup2(fd, 0) < 0)
		fail("dup2 /dev/null");
	close_from(3, c->err_w - 1);
	close_from(c->err_w + 1, ~0U);

	// Ignored dispositions survive exec; the container must get defaults.
	set_signals(SIG_DFL);

	clearenv();
	if (setenv("PATH", "/bin:/sbin:/usr/bin:/usr/sbin", 1) < 0 ||
	    setenv("HOME", "/root", 1) < 0)
		fail("setenv");
	for (int i = 0; i < c->nenv; i++)
		if (putenv((char *)c->env[i]) != 0)
			fail("putenv");
	execvp(c->argv[0], c->argv);
	fail("exec");
}

/* ---------------- launch: shim side ---------------- */

static int do_launch(int argc, char **argv)
{
	static struct launch_cfg c;
	const char *exit_file = NULL;
	int i;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--"))
			break;
		if (i + 1 >= argc)
			usage("missing value for option");
		if (!strcmp(a, "--rootfs"))
			c.rootfs = argv[++i];
		else if (!strcmp(a, "--hostname"))
			c.hostname = argv[++i];
		else if (!strcmp(a, "--console"))
			c.console = argv[++i];
		else if (!strcmp(a, "--exit-file"))
			exit_file = argv[++i];
		else if (!strcmp(a, "--env")) {
			if (c.nenv == MAX_ENV)
				usage("too many --env");
			if (!strchr(argv[i + 1], '='))
				usage("--env needs K=V");
			c.env[c.nenv++] = argv[++i];
		} else
			usage("unknown launch option");
	}
	if (i + 1 >= argc)
		usage("missing -- CMD");
	if (!c.rootfs || !c.hostname || !c.console)
		usage("launch needs --rootfs, --hostname and --console");
	if (c.console[0] != '/')
		usage("--console must be an absolute path inside the rootfs");
	c.argv = argv + i + 1;

	common_start();

	int go[2], err[2];
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		printf("error: pipe: %s\n", strerror(errno));
		return 1;
	}
	c.go_r = go[0];
	c.err_w = err[1];
	char *stack = malloc(STACK_SIZE);
	if (!stack) {
		printf("error: out of memory\n");
		return 1;
	}
	pid_t pid = clone(container_init, stack + STACK_SIZE,
			  CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET |
			  CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD, &c);
	if (pid < 0) {
		printf("error: clone: %s\n", strerror(errno));
		return 1;
	}
	free(stack);
	close(go[0]);
	close(err[1]);

	printf("pid %d\n", pid);
	fflush(stdout);

	char line[64] = "";
	if (fgets(line, sizeof line, stdin))
		line[strcspn(line, "\n")] = '\0';
	if (strcmp(line, "go") != 0 || write(go[1], "g", 1) != 1) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return 1;
	}
	close(go[1]);

	char msg[600];
	size_t len = 0;
	ssize_t r;
	while (len < sizeof msg - 1) {
		r = read(err[0], msg + len, sizeof msg - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += r;
	}
	close(err[0]);
	if (len > 0) {
		msg[len] = '\0';
		printf("error: %s\n", msg);
		fflush(stdout);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return 1;
	}
	printf("ok\n");
	fflush(stdout);
	devnull_stdio();
	return reap_until(pid, exit_file);
}

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

static int do_restore(int argc, char **argv)
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

int main(int argc, char **argv)
{
	if (argc < 2)
		usage("missing mode");
	if (!strcmp(argv[1], "launch"))
		return do_launch(argc - 2, argv + 2);
	if (!strcmp(argv[1], "restore"))
		return do_restore(argc - 2, argv + 2);
	usage("unknown mode");
}
