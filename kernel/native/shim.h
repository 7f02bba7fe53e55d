// Shared by tern-shim's source files (tern-shim.c: modes and launch;
// shim-common.c: helpers both modes use; shim-restore.c: restore).
#ifndef TERN_SHIM_H
#define TERN_SHIM_H
#include <signal.h>
#include <sys/types.h>

void usage(const char *msg);
void close_from(unsigned int first, unsigned int last);
int devnull_stdio(void);
void set_signals(__sighandler_t h);
void common_start(void);
void write_exit_file(const char *file, int st);
int reap_until(pid_t target, const char *exit_file);
int do_launch(int argc, char **argv);
int do_restore(int argc, char **argv);
int do_exec(int argc, char **argv);
int cap_by_name(const char *name);
int confine_caps(unsigned long long add);
int confine_seccomp(unsigned long long add);
const char *confine_proc(void);

#endif
