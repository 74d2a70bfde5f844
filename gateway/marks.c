/* marks.c - the marks file beside the database (see marks.h): two fixed
 * slots of SLOT_SIZE bytes at the start of a preallocated MARKS_FILE_SIZE
 * file, written in turn with pwrite() and fdatasync(). Overwriting blocks
 * that are already allocated needs no free space, which is the point: this
 * is what the daemon can still persist when SQLite reports a full disk.
 * A slot is valid when its magic and FNV-1a check sum hold; the valid slot
 * with the higher counter wins. Native byte order: the file never leaves
 * the gateway. Used by the main loop only. */
#include "marks.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define MARKS_FILE_SIZE 4096
#define SLOT_SIZE 128
#define SLOT_MAGIC 0x314d4746u /* "FGM1" */

struct slot {
	uint32_t magic;
	uint32_t version;
	uint64_t counter;
	char epoch[16];
	uint64_t seq_hwm;
	uint32_t gw_faults;
	uint32_t pad;
	int64_t uplink_lost_ms;
	int64_t next_periodic_ms;
	uint8_t reserved[SLOT_SIZE - 64 - 8];
	uint64_t sum; /* FNV-1a 64 of every byte before it */
};
_Static_assert(sizeof(struct slot) == SLOT_SIZE, "a slot is SLOT_SIZE bytes");

struct marks {
	int fd;
	uint64_t counter;   /* of the newest valid slot, 0: none */
	bool have;
	struct marks_data data;
};

static uint64_t fnv1a(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static bool slot_valid(const struct slot *s)
{
	return s->magic == SLOT_MAGIC && s->version == 1 &&
	       s->sum == fnv1a(s, offsetof(struct slot, sum)) && memchr(s->epoch, '\0', sizeof(s->epoch));
}

/* Makes sure the file's blocks exist, so later overwrites never need space. */
static int preallocate(int fd)
{
	static const char zeros[MARKS_FILE_SIZE];
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size >= MARKS_FILE_SIZE)
		return 0;
	r = posix_fallocate(fd, 0, MARKS_FILE_SIZE);
	if (r == EOPNOTSUPP || r == EINVAL) {
		/* a file system without fallocate: zeros do the same */
		if (pwrite(fd, zeros, sizeof(zeros), 0) != (ssize_t)sizeof(zeros))
			return errno ? -errno : -EIO;
		r = 0;
	}
	if (r != 0)
		return -r;
	return fsync(fd) < 0 ? -errno : 0;
}

int marks_open(const char *db_path, marks **ret)
{
	struct slot slots[2];
	char path[4200];
	ssize_t got;
	marks *m;
	int i, r;

	if (!db_path || !ret)
		return -EINVAL;
	if ((size_t)snprintf(path, sizeof(path), "%s.marks", db_path) >= sizeof(path))
		return -ENAMETOOLONG;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (m->fd < 0) {
		r = -errno;
		goto out_free;
	}
	r = preallocate(m->fd);
	if (r < 0)
		goto out_close;
	memset(slots, 0, sizeof(slots));
	got = pread(m->fd, slots, sizeof(slots), 0);
	if (got < 0) {
		r = -errno;
		goto out_close;
	}
	for (i = 0; i < 2 && (size_t)got >= (size_t)(i + 1) * SLOT_SIZE; i++) {
		const struct slot *s = &slots[i];

		if (!slot_valid(s) || (m->have && s->counter <= m->counter))
			continue;
		m->have = true;
		m->counter = s->counter;
		util_strlcpy(m->data.epoch, s->epoch, sizeof(m->data.epoch));
		m->data.seq_hwm = s->seq_hwm;
		m->data.gw_faults = s->gw_faults;
		m->data.uplink_lost_ms = s->uplink_lost_ms;
		m->data.next_periodic_ms = s->next_periodic_ms;
	}
	*ret = m;
	return 0;

out_close:
	close(m->fd);
out_free:
	free(m);
	return r;
}

void marks_free(marks *m)
{
	if (!m)
		return;
	if (m->fd >= 0)
		close(m->fd);
	free(m);
}

int marks_get(const marks *m, struct marks_data *ret)
{
	if (!m || !ret)
		return -EINVAL;
	if (!m->have)
		return -ENOENT;
	*ret = m->data;
	return 0;
}

int marks_put(marks *m, const struct marks_data *d)
{
	struct slot s;
	uint64_t counter;

	if (!m || !d)
		return -EINVAL;
	counter = m->counter + 1;
	memset(&s, 0, sizeof(s));
	s.magic = SLOT_MAGIC;
	s.version = 1;
	s.counter = counter;
	util_strlcpy(s.epoch, d->epoch, sizeof(s.epoch));
	s.seq_hwm = d->seq_hwm;
	s.gw_faults = d->gw_faults;
	s.uplink_lost_ms = d->uplink_lost_ms;
	s.next_periodic_ms = d->next_periodic_ms;
	s.sum = fnv1a(&s, offsetof(struct slot, sum));
	/* the slot not holding the newest data: a torn write leaves that one */
	if (pwrite(m->fd, &s, sizeof(s), (off_t)(counter % 2) * SLOT_SIZE) != (ssize_t)sizeof(s))
		return errno ? -errno : -EIO;
	if (fdatasync(m->fd) < 0)
		return -errno;
	m->counter = counter;
	m->have = true;
	m->data = *d;
	m->data.epoch[sizeof(m->data.epoch) - 1] = '\0';
	return 0;
}
