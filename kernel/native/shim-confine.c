// The container's boundary, set by its init just before it runs the
// container's command (and by `tern-shim exec` for commands run in it):
// a bounding set like Docker's default, no_new_privs, umask 022, and /proc
// entries that reach the host's kernel masked or read-only. CRIU dumps and
// restores all of it with the tree (capability sets, no_new_privs and the
// mounts of the container's mount namespace), so a moved container keeps
// the same boundary.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

static const struct { const char *name; int cap; } CAPS[] = {
	{ "CHOWN", CAP_CHOWN },
	{ "DAC_OVERRIDE", CAP_DAC_OVERRIDE },
	{ "DAC_READ_SEARCH", CAP_DAC_READ_SEARCH },
	{ "FOWNER", CAP_FOWNER },
	{ "FSETID", CAP_FSETID },
	{ "KILL", CAP_KILL },
	{ "SETGID", CAP_SETGID },
	{ "SETUID", CAP_SETUID },
	{ "SETPCAP", CAP_SETPCAP },
	{ "LINUX_IMMUTABLE", CAP_LINUX_IMMUTABLE },
	{ "NET_BIND_SERVICE", CAP_NET_BIND_SERVICE },
	{ "NET_BROADCAST", CAP_NET_BROADCAST },
	{ "NET_ADMIN", CAP_NET_ADMIN },
	{ "NET_RAW", CAP_NET_RAW },
	{ "IPC_LOCK", CAP_IPC_LOCK },
	{ "IPC_OWNER", CAP_IPC_OWNER },
	{ "SYS_MODULE", CAP_SYS_MODULE },
	{ "SYS_RAWIO", CAP_SYS_RAWIO },
	{ "SYS_CHROOT", CAP_SYS_CHROOT },
	{ "SYS_PTRACE", CAP_SYS_PTRACE },
	{ "SYS_PACCT", CAP_SYS_PACCT },
	{ "SYS_ADMIN", CAP_SYS_ADMIN },
	{ "SYS_BOOT", CAP_SYS_BOOT },
	{ "SYS_NICE", CAP_SYS_NICE },
	{ "SYS_RESOURCE", CAP_SYS_RESOURCE },
	{ "SYS_TIME", CAP_SYS_TIME },
	{ "SYS_TTY_CONFIG", CAP_SYS_TTY_CONFIG },
	{ "MKNOD", CAP_MKNOD },
	{ "LEASE", CAP_LEASE },
	{ "AUDIT_WRITE", CAP_AUDIT_WRITE },
	{ "AUDIT_CONTROL", CAP_AUDIT_CONTROL },
	{ "SETFCAP", CAP_SETFCAP },
	{ "MAC_OVERRIDE", CAP_MAC_OVERRIDE },
	{ "MAC_ADMIN", CAP_MAC_ADMIN },
	{ "SYSLOG", CAP_SYSLOG },
	{ "WAKE_ALARM", CAP_WAKE_ALARM },
	{ "BLOCK_SUSPEND", CAP_BLOCK_SUSPEND },
	{ "AUDIT_READ", CAP_AUDIT_READ },
	{ "PERFMON", CAP_PERFMON },
	{ "BPF", CAP_BPF },
	{ "CHECKPOINT_RESTORE", CAP_CHECKPOINT_RESTORE },
};

/* Docker's default set, less MKNOD: without a device cgroup, mknod of a host disk is an escape. */
static const int DEFAULT_CAPS[] = {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_KILL,
	CAP_SETGID, CAP_SETUID, CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_NET_RAW,
	CAP_SYS_CHROOT, CAP_AUDIT_WRITE, CAP_SETFCAP,
};

int cap_by_name(const char *name)
{
	if (!strncasecmp(name, "CAP_", 4))
		name += 4;
	for (size_t i = 0; i < sizeof CAPS / sizeof CAPS[0]; i++)
		if (!strcasecmp(name, CAPS[i].name))
			return CAPS[i].cap;
	return -1;
}

static int last_cap(void)
{
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	char buf[16] = "";
	int n = fd >= 0 ? (int)read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0)
		close(fd);
	return n > 0 ? atoi(buf) : CAP_LAST_CAP;
}

/*
 * Keeps the default capabilities and those in `add` (a bit per capability)
 * in every set, drops the rest from the bounding set too, and sets
 * no_new_privs. Returns 0, or -1 with errno set.
 */
int confine_caps(unsigned long long add)
{
	unsigned long long keep = add;
	for (size_t i = 0; i < sizeof DEFAULT_CAPS / sizeof DEFAULT_CAPS[0]; i++)
		keep |= 1ULL << DEFAULT_CAPS[i];
	// Nothing can be granted that the agent does not hold itself (a host may
	// withhold some, e.g. CAP_SYS_RESOURCE in some sandboxes).
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -1;
	keep &= (unsigned long long)data[0].permitted | ((unsigned long long)data[1].permitted << 32);
	int last = last_cap();
	for (int c = 0; c <= last && c < 64; c++)
		if (!(keep & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return -1;
	memset(data, 0, sizeof data);
	for (int c = 0; c <= last && c < 64; c++)
		if (keep & (1ULL << c)) {
			data[c / 32].effective |= 1U << (c % 32);
			data[c / 32].permitted |= 1U << (c % 32);
		}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -1;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	umask(022);
	return 0;
}

/* Entries of /proc that reach the host's kernel: hidden behind /dev/null, or read-only. */
static const char *const PROC_MASKED[] = {
	"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
	"/proc/latency_stats", "/proc/kallsyms",
};
static const char *const PROC_READONLY[] = {
	"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs",
};

/* After /proc is mounted in the container's root. Returns the failing step or NULL. */
const char *confine_proc(void)
{
	for (size_t i = 0; i < sizeof PROC_MASKED / sizeof PROC_MASKED[0]; i++) {
		if (access(PROC_MASKED[i], F_OK) < 0)
			continue;
		if (mount("/dev/null", PROC_MASKED[i], NULL, MS_BIND, NULL) < 0)
			return PROC_MASKED[i];
	}
	for (size_t i = 0; i < sizeof PROC_READONLY / sizeof PROC_READONLY[0]; i++) {
		const char *p = PROC_READONLY[i];
		if (access(p, F_OK) < 0)
			continue;
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
			return p;
	}
	return NULL;
}

#if defined(__x86_64__)
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>

/*
 * Syscalls no container needs and that reach the host's kernel as a whole:
 * modules, kexec, reboot, swap, process accounting, the clock, raw I/O
 * ports, the kernel keyring, BPF and perf, handles that bypass the mount
 * namespace. Most also need a capability the container lacks; the filter
 * holds even when --cap-add grants one. They fail with EPERM.
 */
static const int DENIED[] = {
	SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_kexec_load,
	SYS_kexec_file_load, SYS_reboot, SYS_swapon, SYS_swapoff, SYS_acct,
	SYS_settimeofday, SYS_clock_settime, SYS_clock_adjtime, SYS_adjtimex,
	SYS_iopl, SYS_ioperm, SYS_add_key, SYS_request_key, SYS_keyctl,
	SYS_bpf, SYS_perf_event_open, SYS_open_by_handle_at, SYS_lookup_dcookie,
	SYS_uselib, SYS_syslog, SYS_quotactl,
};

#define DENY (SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))
#define ALLOW SECCOMP_RET_ALLOW

/*
 * Installs the container's seccomp filter (x86_64 only). Unless `add`
 * holds CAP_SYS_ADMIN, new user namespaces are refused too (unshare and
 * clone with CLONE_NEWUSER; clone3, whose flags a filter cannot read, says
 * ENOSYS so that the C library falls back to clone). Needs no_new_privs.
 */
int confine_seccomp(unsigned long long add)
{
	struct sock_filter f[128];
	unsigned n = 0;
	const unsigned ndeny = sizeof DENIED / sizeof DENIED[0];
	int userns = (add >> CAP_SYS_ADMIN) & 1;

#define STMT(code, k) (f[n++] = (struct sock_filter)BPF_STMT(code, k))
#define JUMP(code, k, jt, jf) (f[n++] = (struct sock_filter)BPF_JUMP(code, k, jt, jf))
	STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	STMT(BPF_RET | BPF_K, DENY); /* i386 and x32 entry points */
	STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);
	STMT(BPF_RET | BPF_K, DENY);
	for (unsigned i = 0; i < ndeny; i++) {
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)DENIED[i], 0, 1);
		STMT(BPF_RET | BPF_K, DENY);
	}
	if (!userns) {
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1);
		STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
		/* unshare(flags) and clone(flags, ...): flags is the first argument. */
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_unshare, 1, 0);
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3);
		STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
		JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWUSER, 0, 1);
		STMT(BPF_RET | BPF_K, DENY);
	}
	STMT(BPF_RET | BPF_K, ALLOW);
#undef STMT
#undef JUMP
	struct sock_fprog prog = { .len = (unsigned short)n, .filter = f };
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}
#else
int confine_seccomp(unsigned long long add)
{
	(void)add;
	return 0; /* no filter for this architecture yet */
}
#endif
