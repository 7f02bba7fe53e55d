// tern-shim: per-container parent process. It sets up the container's
// namespaces (Node.js cannot clone/pivot_root) and, as a child subreaper,
// reaps the container init, because the host's orphan adopter never does.
//
//   tern-shim launch --rootfs DIR --hostname NAME --console PATH
//                    [--env K=V]... [--cap-add CAP]... [--no-seccomp 1]
//                    [--exit-file FILE] -- CMD [ARGS...]
//   tern-shim restore --pidfile FILE [--exit-file FILE] [--log FILE]
//                    -- CRIU_PATH ARGS...
//   tern-shim exec --pid PID [--cap-add CAP]... -- CMD [ARGS...]   (shim-exec.c)
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

#define MAX_ENV 256
#define STACK_SIZE (1024 * 1024)

struct launch_cfg {
	const char *rootfs, *hostname, *console;
	unsigned long long cap_add;
	int no_seccomp;
	const char *env[MAX_ENV];
	int nenv;
	char **argv;
	int go_r, err_w;
};

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
	// Only now, inside the new root: a symlink planted in the rootfs (dev ->
	// /etc, say) resolves within the container, never on the host.
	make_dev_entries("");
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		fail("mount proc");
	const char *masked = confine_proc();
	if (masked)
		fail(masked);
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
	if (confine_caps(c->cap_add) < 0)
		fail("drop capabilities");
	if (!c->no_seccomp && confine_seccomp(c->cap_add) < 0)
		fail("seccomp filter");
	execvp(c->argv[0], c->argv);
	fail("exec");
}

/* ---------------- launch: shim side ---------------- */

int do_launch(int argc, char **argv)
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
		else if (!strcmp(a, "--cap-add")) {
			int cap = cap_by_name(argv[++i]);
			if (cap < 0)
				usage("--cap-add: unknown capability");
			c.cap_add |= 1ULL << cap;
		} else if (!strcmp(a, "--no-seccomp")) {
			c.no_seccomp = strcmp(argv[++i], "0") != 0;
		} else if (!strcmp(a, "--env")) {
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

int main(int argc, char **argv)
{
	if (argc < 2)
		usage("missing mode");
	if (!strcmp(argv[1], "launch"))
		return do_launch(argc - 2, argv + 2);
	if (!strcmp(argv[1], "restore"))
		return do_restore(argc - 2, argv + 2);
	if (!strcmp(argv[1], "exec"))
		return do_exec(argc - 2, argv + 2);
	usage("unknown mode");
}
