/* secret.h - secrets kept in files: the broker password, a key's pass
 * phrase (docs/security.md "Credentials"). */
#ifndef FIREGW_SECRET_H
#define FIREGW_SECRET_H

#include <stddef.h>

#define SECRET_MAX 1024 /* a password or pass phrase, bytes */

/* Reads a secret (a password, a key's pass phrase) from path into buf: one
 * trailing line end (\n or \r\n) is stripped. Refused: not a regular file,
 * readable or writable by others or writable by its group (mode & 027),
 * empty, longer than size - 1 (-EFBIG), or holding a NUL byte. On failure why says what is wrong and
 * what to run (it never holds the secret). 0, -errno (-EPERM for the mode,
 * -ENODATA when empty). */
int secret_read(const char *path, char *buf, size_t size, char *why, size_t why_size);

/* Wipes and frees a secret held in a malloc'd string; NULL is fine. */
void secret_free(char *s);

#endif
