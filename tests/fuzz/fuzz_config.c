/* fuzz_config.c - libFuzzer target for the configuration parser: any bytes
 * as a config file must give 0 or a negative errno with diagnostics, never
 * a crash, a leak or unbounded memory. Profiles are looked up in sensors/
 * (run from the repository root), so inputs naming shipped profiles also
 * exercise resolution. Not part of `make test`.
 *
 * Build and run from the repository root (new inputs go to /tmp/fuzz-config,
 * config/ seeds it):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Igateway tests/fuzz/fuzz_config.c gateway/config.c gateway/ytree.c gateway/errlist.c gateway/util.c gateway/log.c gateway/profile.c gateway/detect.c -lyaml -lcrypto -lm -o /tmp/fuzz_config && mkdir -p /tmp/fuzz-config && /tmp/fuzz_config -max_len=8192 -max_total_time=300 /tmp/fuzz-config config
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct errlist errs = { 0 };
	struct config *c = NULL;
	char path[64];
	int r;

	/* config_load takes a path: an in-memory file avoids disk I/O per run */
	if (fd < 0) {
		fd = memfd_create("fuzz-config", 0);
		if (fd < 0)
			return 0;
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = config_load(path, "sensors", &errs, &c);
	if (r == 0) {
		FILE *devnull = fopen("/dev/null", "w");

		if (devnull) {
			config_print_summary(c, devnull);
			fclose(devnull);
		}
		config_free(c);
	} else if (r == -EINVAL && errs.n_errors == 0) {
		__builtin_trap(); /* refused without saying why */
	}
	errlist_clear(&errs);
	return 0;
}
