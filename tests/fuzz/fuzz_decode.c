/* fuzz_decode.c - libFuzzer target for register decoding (profile.c): the
 * raw words of a poll of any shipped profile, whatever the device sent,
 * decode without a crash or undefined behaviour, and a value that decodes
 * as ok is finite; the simulator's inverse (profile_encode) takes any
 * double, NaN and infinities included, and what it accepts decodes back
 * within the type's range. Input: byte 0 picks the profile, bytes 1..8 a
 * double for profile_encode, the rest the raw words (big-endian, as on the
 * wire). Seeds: tests/fuzz/corpus/decode. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errlist.h"
#include "log.h"
#include "profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = { "smoke-point", "heat-a1",  "heat-rate",
				     "asd-float",   "th-sensor", "di8-panel-outputs" };
#define N_PROFILES (sizeof(names) / sizeof(names[0]))
static struct profile *profs[N_PROFILES];

static void load_all(void)
{
	char path[256];
	size_t i;

	log_init(LOG_CRIT);
	for (i = 0; i < N_PROFILES; i++) {
		struct errlist e = { 0 };

		snprintf(path, sizeof(path), "sensors/%s.yaml", names[i]);
		if (profile_load(path, &e, &profs[i]) < 0) {
			errlist_print(&e, stderr);
			fprintf(stderr, "fuzz_decode: run from the repository root\n");
			abort();
		}
		errlist_clear(&e);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct profile_raw raw;
	static struct value_reading vals[PROFILE_MAX_VALUES];
	const struct profile *p;
	double v;
	size_t i, n;
	int f;

	if (!profs[0])
		load_all();
	if (size < 9)
		return 0;
	p = profs[data[0] % N_PROFILES];
	memcpy(&v, data + 1, sizeof(v));
	memset(&raw, 0, sizeof(raw));
	n = (size - 9) / 2;
	for (i = 0; i < n && i < PROFILE_MAX_WORDS; i++)
		raw.words[i] = (uint16_t)(data[9 + 2 * i] << 8 | data[10 + 2 * i]);
	profile_decode(p, &raw, vals);
	for (i = 0; i < p->n_values; i++)
		if (vals[i].ok && !isfinite(vals[i].value))
			__builtin_trap();
	for (i = 0; i < p->n_points; i++) {
		(void)profile_flag_active(&p->points[i].input, vals);
		for (f = 0; f < FLAG_MAX; f++)
			(void)profile_flag_active(&p->points[i].flags[f], vals);
	}
	/* the inverse, for one value chosen by the input */
	i = p->n_values ? data[0] / N_PROFILES % p->n_values : 0;
	if (p->n_values && profile_encode(p, (int)i, v, &raw) == 0) {
		profile_decode(p, &raw, vals);
		if (vals[i].ok && !isfinite(vals[i].value))
			__builtin_trap();
	}
	return 0;
}
