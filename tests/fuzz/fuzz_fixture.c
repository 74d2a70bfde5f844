/* fuzz_fixture.c - see fuzz_fixture.h. */
#include "fuzz_fixture.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errlist.h"
#include "log.h"
#include "util.h"

static struct fuzz_fx fx;
static int fx_built;

static json_t *status_cb(void *ud, const char *state, const char *reason)
{
	struct fuzz_fx *f = ud;

	return json_pack("{s:s, s:s?, s:s}", "state", state, "reason", reason, "site",
			 f->c->site.id);
}

/* the temporary store goes with the process (libFuzzer exits through exit()) */
static void fx_cleanup(void)
{
	struct dirent *de;
	char p[600];
	DIR *dir = opendir(fx.dir);

	while (dir && (de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", fx.dir, de->d_name);
		unlink(p);
	}
	if (dir)
		closedir(dir);
	rmdir(fx.dir);
}

static void die(const char *what)
{
	fprintf(stderr, "fuzz fixture: %s\n", what);
	abort();
}

struct fuzz_fx *fuzz_fx_get(void)
{
	struct store_opts so = { .create = true };
	struct request_deps d;
	struct errlist e = { 0 };
	char path[512], yaml[2048];
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	size_t i, k;
	FILE *fp;

	if (fx_built)
		return &fx;
	/* bad input is logged by design: keep the fuzzer's output readable */
	log_init(getenv("FUZZ_LOG") ? LOG_DEBUG : LOG_CRIT);
	snprintf(fx.dir, sizeof(fx.dir), "%s/firegw-fuzz.XXXXXX", base);
	if (!mkdtemp(fx.dir))
		die("mkdtemp");
	atexit(fx_cleanup);
	snprintf(yaml, sizeof(yaml),
		 "site: {id: s1}\n"
		 "storage: {path: %s/firegw.db}\n"
		 "mqtt: {ack_timeout_s: 60}\n"
		 "buses: [{id: b1, tcp: {host: 127.0.0.1, port: 1}}]\n"
		 "devices:\n"
		 "  - {id: smoke-1, bus: b1, unit: 1, profile: smoke-point}\n"
		 "  - {id: heat-1, bus: b1, unit: 2, profile: heat-a1}\n"
		 "  - {id: in-1, bus: b1, unit: 3, profile: di8-panel-outputs}\n"
		 "remote: {allow_reset: true, allow_test: true}\n",
		 fx.dir);
	snprintf(path, sizeof(path), "%s/firegw.yaml", fx.dir);
	fp = fopen(path, "w");
	if (!fp)
		die("config file");
	fputs(yaml, fp);
	fclose(fp);
	if (config_load(path, config_builtin_profile_dir(), &e, &fx.c) < 0) {
		errlist_print(&e, stderr);
		die("config");
	}
	errlist_clear(&e);
	if (site_init(&fx.s, fx.c, util_wall_ms()) < 0 || outbox_new(&fx.ob) < 0)
		die("site or outbox");
	outbox_key(fx.ob, "gateway");
	for (i = 0; i < fx.c->n_devices; i++)
		for (k = 0; k < fx.c->devices[i].n_points; k++) {
			char key[STORE_KEY_MAX];

			site_point_key(&fx.s, (int)i, (int)k, key, sizeof(key));
			fx.s.devs[i].points[k].key = outbox_key(fx.ob, key);
		}
	if (journal_new(fx.c, &fx.s, fx.ob, NULL, NULL, &fx.j) < 0)
		die("journal");
	so.path = fx.c->storage.path;
	if (store_open(&so, &fx.st) < 0)
		die("store");
	journal_set_store(fx.j, fx.st);
	journal_load_marks(fx.j, NULL);
	if (modes_new(fx.c, &fx.s, fx.j, fx.st, &fx.m) < 0)
		die("modes");
	d = (struct request_deps){ .cfg = fx.c,
				   .site = &fx.s,
				   .st = fx.st,
				   .j = fx.j,
				   .m = fx.m,
				   .u = NULL,
				   .pollers = fx.pollers,
				   .status = status_cb,
				   .ud = &fx };
	if (request_new(&d, &fx.rq) < 0)
		die("request");
	if (health_new(fx.c, fx.j, fx.st, &fx.h) < 0)
		die("health");
	health_set_site(fx.h, &fx.s);
	/* one event the center can acknowledge: a gateway fault (1354) */
	journal_fault_set(fx.j, GWEV_ACK_TIMEOUT, true, 0, "fuzz fixture");
	journal_last_event_id(fx.j, fx.fault_id, sizeof(fx.fault_id));
	if (journal_last_seq(fx.j) == 0)
		die("fault event");
	fx_built = 1;
	return &fx;
}

int fuzz_memfile(const uint8_t *data, size_t size, char *path, size_t len)
{
	static int fd = -1;

	if (fd < 0) {
		fd = memfd_create("fuzz-input", 0);
		if (fd < 0)
			return -errno;
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		return -EIO;
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return 0;
}
