/*
 * tern-warm: holds BYTES of memory touched until its stdin closes, then
 * gives it back at once by exiting.
 *
 * Why: on a virtual machine whose hypervisor takes back free guest memory
 * (virtio-balloon free page reporting), the first touch of a page that has
 * been free for a few seconds costs a trip to the hypervisor: 1.5-2.5 s per
 * GiB on the test machine, against 0.35 s per GiB for memory freed a moment
 * ago. A target that will write a dump's pages and restore its tree needs
 * that much memory at once while the source is frozen; the agent warms it
 * before the freeze with this helper and lets it go when the pages start to
 * arrive, so the kernel hands the just-freed pages to the page server and to
 * criu restore. docs/data-path.md has the measurements.
 *
 * Prints "ready BYTES\n" on stdout once every page is touched (or as much as
 * the kernel gave: a failed mmap ends the warm-up early, it is not an error).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PIECE ((size_t)64 << 20)

int main(int argc, char **argv) {
	char *end = NULL;
	unsigned long long want = argc == 2 ? strtoull(argv[1], &end, 10) : 0;
	if (argc != 2 || !end || *end || want == 0) {
		fprintf(stderr, "usage: tern-warm BYTES\n");
		return 2;
	}
	unsigned long long held = 0;
	while (held < want) {
		size_t n = want - held < PIECE ? (size_t)(want - held) : PIECE;
		void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (p == MAP_FAILED) {
			fprintf(stderr, "tern-warm: mmap of %zu bytes: %s; holding %llu\n", n, strerror(errno), held);
			break;
		}
		held += n;
	}
	printf("ready %llu\n", held);
	fflush(stdout);
	char buf[64];
	while (read(0, buf, sizeof buf) > 0)
		;
	return 0;
}
