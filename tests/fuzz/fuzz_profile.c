/* fuzz_profile.c - libFuzzer target for the sensor profile loader: any
 * bytes as a profile file give 0 or a negative errno with diagnostics,
 * never a crash, a leak or an unbounded allocation. A profile that loads is
 * decoded once from zero and from all-ones raw words (the loader's plan
 * must fit what decoding reads). Seeds: tests/fuzz/corpus/profile (the
 * shipped profiles of sensors/). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "errlist.h"
#include "log.h"
#include "profile.h"
#include "fuzz_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct profile_raw raw;
	static struct value_reading vals[PROFILE_MAX_VALUES];
	static int init;
	struct errlist errs = { 0 };
	struct profile *p = NULL;
	char path[64];
	size_t i, k;
	int r;

	if (!init) {
		log_init(LOG_CRIT);
		init = 1;
	}
	if (fuzz_memfile(data, size, path, sizeof(path)) < 0)
		return 0;
	r = profile_load(path, &errs, &p);
	if (r == 0) {
		if (p->n_values > PROFILE_MAX_VALUES || p->n_words > PROFILE_MAX_WORDS)
			__builtin_trap();
		for (k = 0; k < 2; k++) {
			memset(&raw, k ? 0xff : 0, sizeof(raw));
			profile_decode(p, &raw, vals);
			for (i = 0; i < p->n_points; i++) {
				int f;

				(void)profile_flag_active(&p->points[i].input, vals);
				for (f = 0; f < FLAG_MAX; f++)
					(void)profile_flag_active(&p->points[i].flags[f], vals);
			}
		}
		profile_free(p);
	} else if (r == -EINVAL && errs.n_errors == 0) {
		__builtin_trap(); /* refused without saying why */
	}
	errlist_clear(&errs);
	return 0;
}
