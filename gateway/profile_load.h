/* profile_load.h - reading a sensor profile file (docs/profiles.md) into a
 * struct profile: YAML through ytree, every key checked through yval and
 * yrules, all errors at once as "file:line:col: message". Does file I/O;
 * the decoding of what a profile describes is profile.c's, and pure.
 * profile.h includes this header, so its callers need nothing new. */
#pragma once
#include <stddef.h>

#include "profile.h"
#include "yval.h"

struct errlist;

/* Loads and validates one profile file. Errors go to errs as
 * "file:line:col: message" lines (caller-owned buffer, appended to);
 * returns 0, -EINVAL (errors written), -ENOENT, -ENOMEM. */
int profile_load(const char *path, struct errlist *errs, struct profile **ret);
/* Finds NAME.yaml in dirs (in order); name must be a plain id.
 * 0, -ENOENT (not found in any), -EINVAL. ret_path gets the file found. */
int profile_find(const char *name, const char *const *dirs, size_t n_dirs, char *ret_path,
		 size_t path_len);

/* The meanings an input channel may have ("as:"), in a profile and in a
 * config's point override alike: unused (FLAG_INVALID), fire, prealarm,
 * fault, power, tamper. */
#define PROFILE_N_AS_NAMES 6
extern const struct yval_enum profile_as_names[PROFILE_N_AS_NAMES];
