/* test_marks.c - unit tests of gateway/marks.c: a new file is empty and
 * preallocated; what is put is read back after a reopen; the newer of the
 * two slots wins; a torn (corrupt) newest slot falls back to the older one;
 * bad arguments; and a put still succeeds when the file system is full. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "marks.h"

struct fx {
	char dir[64];
	char db[128];
	char file[160];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test-marks-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/firegw.db", f->dir);
	snprintf(f->file, sizeof(f->file), "%s.marks", f->db);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	unlink(f->file);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct marks_data data(const char *epoch, uint64_t hwm, uint32_t faults)
{
	struct marks_data d = { .seq_hwm = hwm, .gw_faults = faults, .uplink_lost_ms = 1234 };

	snprintf(d.epoch, sizeof(d.epoch), "%s", epoch);
	return d;
}

static void test_bad_arguments(void **state)
{
	struct marks_data d = data("7f3a9c01", 1, 0);
	marks *m = NULL;

	(void)state;
	assert_int_equal(marks_open(NULL, &m), -EINVAL);
	assert_int_equal(marks_get(NULL, &d), -EINVAL);
	assert_int_equal(marks_put(NULL, &d), -EINVAL);
	assert_int_equal(marks_open("/nonexistent-dir/x/firegw.db", &m), -ENOENT);
	marks_free(NULL);
}

static void test_new_file_is_empty_and_preallocated(void **state)
{
	struct fx *f = *state;
	struct marks_data d;
	struct stat st;
	marks *m = NULL;

	assert_int_equal(marks_open(f->db, &m), 0);
	assert_int_equal(marks_get(m, &d), -ENOENT);
	assert_int_equal(stat(f->file, &st), 0);
	/* the blocks exist: later overwrites need no free space */
	assert_true(st.st_size >= 4096);
	assert_true(st.st_blocks * 512 >= 4096);
	marks_free(m);
}

static void test_put_survives_reopen(void **state)
{
	struct fx *f = *state;
	struct marks_data d = data("7f3a9c01", 42, 1u << 3), got;
	marks *m = NULL;
	int i;

	assert_int_equal(marks_open(f->db, &m), 0);
	for (i = 0; i < 5; i++) {
		d.seq_hwm = 42 + (uint64_t)i;
		assert_int_equal(marks_put(m, &d), 0);
	}
	marks_free(m);
	assert_int_equal(marks_open(f->db, &m), 0);
	assert_int_equal(marks_get(m, &got), 0);
	assert_string_equal(got.epoch, "7f3a9c01");
	assert_int_equal(got.seq_hwm, 46);
	assert_int_equal(got.gw_faults, 1u << 3);
	assert_int_equal(got.uplink_lost_ms, 1234);
	marks_free(m);
}

/* A write torn by a power cut spoils one slot: the other still holds the
 * previous data, never garbage. */
static void test_torn_newest_slot_falls_back(void **state)
{
	struct fx *f = *state;
	struct marks_data d = data("0badc0de", 10, 0), got;
	unsigned char junk[16];
	marks *m = NULL;
	int fd;

	assert_int_equal(marks_open(f->db, &m), 0);
	assert_int_equal(marks_put(m, &d), 0); /* counter 1: slot 1 */
	d.seq_hwm = 11;
	assert_int_equal(marks_put(m, &d), 0); /* counter 2: slot 0 */
	marks_free(m);
	fd = open(f->file, O_WRONLY);
	assert_true(fd >= 0);
	memset(junk, 0xa5, sizeof(junk));
	assert_int_equal(pwrite(fd, junk, sizeof(junk), 40), (ssize_t)sizeof(junk));
	close(fd);
	assert_int_equal(marks_open(f->db, &m), 0);
	assert_int_equal(marks_get(m, &got), 0);
	assert_int_equal(got.seq_hwm, 10);
	/* and writing goes on above the surviving counter */
	d.seq_hwm = 12;
	assert_int_equal(marks_put(m, &d), 0);
	marks_free(m);
	assert_int_equal(marks_open(f->db, &m), 0);
	assert_int_equal(marks_get(m, &got), 0);
	assert_int_equal(got.seq_hwm, 12);
	marks_free(m);
}

/* The reason the file exists: on a full file system SQLite cannot grow,
 * the marks file is still written. Uses a tmpfs when running as root. */
static void test_put_on_full_filesystem(void **state)
{
	struct fx *f = *state;
	struct marks_data d = data("7f3a9c01", 7, 1), got;
	char mnt[96], db[128], filler[128], marks_path[160];
	static char chunk[65536];
	marks *m = NULL;
	FILE *fp;
	int i;

	if (geteuid() != 0) {
		skip();
		return;
	}
	snprintf(mnt, sizeof(mnt), "%s/mnt", f->dir);
	assert_int_equal(mkdir(mnt, 0700), 0);
	snprintf(filler, sizeof(filler), "mount -t tmpfs -o size=1m tmpfs %s", mnt);
	if (system(filler) != 0) {
		rmdir(mnt);
		skip();
		return;
	}
	snprintf(db, sizeof(db), "%s/firegw.db", mnt);
	snprintf(marks_path, sizeof(marks_path), "%s.marks", db);
	assert_int_equal(marks_open(db, &m), 0);
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	fp = fopen(filler, "wb");
	assert_non_null(fp);
	for (i = 0; i < 64; i++)
		if (fwrite(chunk, sizeof(chunk), 1, fp) != 1 || fflush(fp) != 0)
			break;
	fclose(fp);
	assert_true(i < 64); /* the file system is full */
	for (i = 0; i < 50; i++) {
		d.seq_hwm = 7 + (uint64_t)i;
		assert_int_equal(marks_put(m, &d), 0);
	}
	marks_free(m);
	assert_int_equal(marks_open(db, &m), 0);
	assert_int_equal(marks_get(m, &got), 0);
	assert_int_equal(got.seq_hwm, 56);
	marks_free(m);
	unlink(filler);
	unlink(marks_path);
	snprintf(filler, sizeof(filler), "umount %s", mnt);
	assert_int_equal(system(filler), 0);
	rmdir(mnt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_arguments),
	    cmocka_unit_test_setup_teardown(test_new_file_is_empty_and_preallocated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_put_survives_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_torn_newest_slot_falls_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_put_on_full_filesystem, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
