/* sim_dev.c - the simulated devices of firegw-sim: their Modbus tables, the
 * request PDU handling (functions 0x01-0x06, 0x0F, 0x10), and the bridge
 * from engineering values and flags to raw registers through the gateway's
 * own profile_encode(). Owns the tables; called only from the poll loop
 * thread. No I/O. */
#include "sim.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

const char *sim_mode_name(enum sim_mode m)
{
	static const char *const names[SIM_MODE_MAX] = { "normal", "silent", "slow", "exception",
							  "badcrc", "garbage", "wrongunit", "badlen" };

	if (m < 0 || m >= SIM_MODE_MAX)
		return "invalid";
	return names[m];
}

uint64_t sim_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static unsigned value_width(const struct profile_value *v)
{
	switch (v->type) {
	case RTYPE_U32:
	case RTYPE_S32:
	case RTYPE_F32:
		return 2;
	default:
		return 1;
	}
}

static void range_add(uint32_t *lo, uint32_t *hi, uint32_t a, uint32_t n)
{
	if (a < *lo)
		*lo = a;
	if (a + n > *hi)
		*hi = a + n;
}

static int dev_build_tables(struct sim_dev *d)
{
	const struct profile *p = d->prof;
	uint32_t lo[TABLE_MAX], hi[TABLE_MAX];
	size_t i;
	int t;

	for (t = 0; t < TABLE_MAX; t++) {
		lo[t] = UINT32_MAX;
		hi[t] = 0;
	}
	for (i = 0; i < p->n_blocks; i++) {
		const struct profile_block *b = &p->blocks[i];

		if (b->table < 0 || b->table >= TABLE_MAX)
			return -EINVAL;
		range_add(&lo[b->table], &hi[b->table], b->address, b->count);
	}
	for (i = 0; i < p->n_values; i++) {
		const struct profile_value *v = &p->values[i];

		if (v->table < 0 || v->table >= TABLE_MAX)
			return -EINVAL;
		range_add(&lo[v->table], &hi[v->table], v->address, value_width(v));
	}
	for (t = 0; t < TABLE_MAX; t++) {
		if (hi[t] == 0)
			continue;
		if (hi[t] > 65536u) {
			log_error("profile '%s' of '%s' reaches past register 65535", p->name,
				  d->cfg->id);
			return -EINVAL;
		}
		d->tables[t].lo = (uint16_t)lo[t];
		d->tables[t].count = hi[t] - lo[t];
		d->tables[t].data = calloc(d->tables[t].count, sizeof(uint16_t));
		if (!d->tables[t].data)
			return -ENOMEM;
	}
	return 0;
}

static uint16_t *table_word(const struct sim_dev *d, enum reg_table t, uint32_t addr)
{
	const struct sim_table *tb;

	if (t < 0 || t >= TABLE_MAX)
		return NULL;
	tb = &d->tables[t];
	if (tb->count == 0 || addr < tb->lo || addr - tb->lo >= tb->count)
		return NULL;
	return &tb->data[addr - tb->lo];
}

/* The profile's raw words are laid out per block: gather copies the tables
 * into that layout, scatter copies it back. */
static void raw_gather(const struct sim_dev *d, struct profile_raw *raw)
{
	const struct profile *p = d->prof;
	size_t i, k;

	memset(raw, 0, sizeof(*raw));
	for (i = 0; i < p->n_blocks; i++) {
		const struct profile_block *b = &p->blocks[i];

		for (k = 0; k < b->count && b->words_offset + k < PROFILE_MAX_WORDS; k++) {
			const uint16_t *w = table_word(d, b->table, (uint32_t)b->address + (uint32_t)k);

			raw->words[b->words_offset + k] = w ? *w : 0;
		}
	}
}

static void raw_scatter(struct sim_dev *d, const struct profile_raw *raw)
{
	const struct profile *p = d->prof;
	size_t i, k;

	for (i = 0; i < p->n_blocks; i++) {
		const struct profile_block *b = &p->blocks[i];

		for (k = 0; k < b->count && b->words_offset + k < PROFILE_MAX_WORDS; k++) {
			uint16_t *w = table_word(d, b->table, (uint32_t)b->address + (uint32_t)k);

			if (w)
				*w = raw->words[b->words_offset + k];
		}
	}
}

int sim_dev_set_value(struct sim_dev *d, int vi, double v)
{
	struct profile_raw raw;
	int r;

	if (vi < 0 || (size_t)vi >= d->prof->n_values)
		return -EINVAL;
	raw_gather(d, &raw);
	r = profile_encode(d->prof, vi, v, &raw);
	if (r < 0)
		return r;
	raw_scatter(d, &raw);
	return 0;
}

int sim_dev_get_value(const struct sim_dev *d, int vi, double *ret)
{
	struct profile_raw raw;
	struct value_reading vals[PROFILE_MAX_VALUES];

	if (vi < 0 || (size_t)vi >= d->prof->n_values)
		return -EINVAL;
	raw_gather(d, &raw);
	profile_decode(d->prof, &raw, vals);
	if (!vals[vi].ok)
		return -EINVAL;
	*ret = vals[vi].value;
	return 0;
}

/* The raw integer of a value straight from the tables (flag masks apply to
 * it), and back. Word order as in the profile. */
static int value_raw(const struct sim_dev *d, const struct profile_value *v, uint32_t *ret)
{
	uint16_t *w0 = table_word(d, v->table, v->address);
	uint16_t *w1;

	if (!w0)
		return -EINVAL;
	if (value_width(v) == 1) {
		*ret = *w0;
		return 0;
	}
	w1 = table_word(d, v->table, (uint32_t)v->address + 1);
	if (!w1)
		return -EINVAL;
	if (v->order == WORDS_LOW_FIRST)
		*ret = (uint32_t)*w1 << 16 | *w0;
	else
		*ret = (uint32_t)*w0 << 16 | *w1;
	return 0;
}

static int value_raw_store(struct sim_dev *d, const struct profile_value *v, uint32_t x)
{
	uint16_t *w0 = table_word(d, v->table, v->address);
	uint16_t *w1;

	if (!w0)
		return -EINVAL;
	if (v->type == RTYPE_BIT) {
		*w0 = x ? 1 : 0;
		return 0;
	}
	if (value_width(v) == 1) {
		*w0 = (uint16_t)x;
		return 0;
	}
	w1 = table_word(d, v->table, (uint32_t)v->address + 1);
	if (!w1)
		return -EINVAL;
	if (v->order == WORDS_LOW_FIRST) {
		*w0 = (uint16_t)(x & 0xffff);
		*w1 = (uint16_t)(x >> 16);
	} else {
		*w0 = (uint16_t)(x >> 16);
		*w1 = (uint16_t)(x & 0xffff);
	}
	return 0;
}

int sim_dev_set_flag(struct sim_dev *d, const struct flag_src *f, bool active)
{
	const struct profile_value *v;
	uint32_t x, mask;
	int r;

	if (f->value < 0 || (size_t)f->value >= d->prof->n_values)
		return -EINVAL;
	v = &d->prof->values[f->value];
	/* Bits of a float mean nothing on a real device. */
	if (v->type == RTYPE_F32)
		return -EINVAL;
	r = value_raw(d, v, &x);
	if (r < 0)
		return r;
	mask = v->type == RTYPE_BIT ? 1u : f->mask;
	if (active != f->invert)
		x |= mask;
	else
		x &= ~mask;
	return value_raw_store(d, v, x);
}

int sim_dev_raw_write(struct sim_dev *d, enum reg_table t, uint16_t addr, uint16_t v)
{
	uint16_t *w = table_word(d, t, addr);

	if (!w)
		return -ERANGE;
	*w = (t == TABLE_COIL || t == TABLE_DISCRETE) ? (v ? 1 : 0) : v;
	return 0;
}

int sim_dev_raw_read(const struct sim_dev *d, enum reg_table t, uint16_t addr, uint16_t *ret)
{
	const uint16_t *w = table_word(d, t, addr);

	if (!w)
		return -ERANGE;
	*ret = *w;
	return 0;
}

static bool value_is_flag_source(const struct sim_dev *d, int vi)
{
	const struct profile *p = d->prof;
	size_t i;
	int f;

	for (i = 0; i < p->n_points; i++) {
		if (p->points[i].input.value == vi)
			return true;
		for (f = 0; f < FLAG_MAX; f++)
			if (p->points[i].flags[f].value == vi)
				return true;
	}
	for (i = 0; i < d->cfg->n_points; i++)
		for (f = 0; f < FLAG_MAX; f++)
			if (d->cfg->points[i].flags[f].value == vi)
				return true;
	return false;
}

static double normal_value(const struct profile_value *v)
{
	double x = 0;

	if (strcmp(v->unit, "°C") == 0)
		x = 25;
	else if (strcmp(v->unit, "%RH") == 0)
		x = 50;
	if (!isnan(v->valid_min) && x < v->valid_min)
		x = v->valid_min;
	if (!isnan(v->valid_max) && x > v->valid_max)
		x = v->valid_max;
	return x;
}

void sim_dev_reset_values(struct sim_dev *d)
{
	const struct profile *p = d->prof;
	size_t i;
	int t, f;

	for (t = 0; t < TABLE_MAX; t++)
		if (d->tables[t].count)
			memset(d->tables[t].data, 0, d->tables[t].count * sizeof(uint16_t));
	for (i = 0; i < p->n_values; i++) {
		if (value_is_flag_source(d, (int)i))
			continue;
		/* A value whose normal reading does not fit (an offset that
		 * puts 0 out of reach) keeps raw 0 rather than failing start-up. */
		if (sim_dev_set_value(d, (int)i, normal_value(&p->values[i])) < 0)
			log_warning("'%s': no normal value for '%s', left at raw 0", d->cfg->id,
				    p->values[i].name);
	}
	/* Inverted sources read "inactive" with their bits set. */
	for (i = 0; i < p->n_points; i++) {
		if (p->points[i].input.value >= 0)
			sim_dev_set_flag(d, &p->points[i].input, false);
		for (f = 0; f < FLAG_MAX; f++)
			if (p->points[i].flags[f].value >= 0)
				sim_dev_set_flag(d, &p->points[i].flags[f], false);
	}
	for (i = 0; i < d->cfg->n_points; i++)
		for (f = 0; f < FLAG_MAX; f++)
			if (d->cfg->points[i].flags[f].value >= 0)
				sim_dev_set_flag(d, &d->cfg->points[i].flags[f], false);
}

void sim_devs_free(struct sim_dev *devs, size_t n)
{
	size_t i;
	int t;

	if (!devs)
		return;
	for (i = 0; i < n; i++)
		for (t = 0; t < TABLE_MAX; t++)
			free(devs[i].tables[t].data);
	free(devs);
}

int sim_devs_create(const struct config *cfg, struct sim_dev **ret, size_t *ret_n)
{
	struct sim_dev *devs;
	size_t i;
	int r;

	devs = calloc(cfg->n_devices ? cfg->n_devices : 1, sizeof(*devs));
	if (!devs)
		return -ENOMEM;
	for (i = 0; i < cfg->n_devices; i++) {
		struct sim_dev *d = &devs[i];

		d->cfg = &cfg->devices[i];
		d->prof = cfg->devices[i].profile;
		d->unit = cfg->devices[i].unit;
		d->bus = cfg->devices[i].bus;
		d->mode = SIM_MODE_NORMAL;
		if (!d->prof) {
			log_error("device '%s' has no resolved profile", d->cfg->id);
			r = -EINVAL;
			goto out_free;
		}
		r = dev_build_tables(d);
		if (r < 0)
			goto out_free;
		sim_dev_reset_values(d);
	}
	*ret = devs;
	*ret_n = cfg->n_devices;
	return 0;

out_free:
	sim_devs_free(devs, cfg->n_devices);
	return r;
}

static size_t exception(uint8_t fc, uint8_t code, uint8_t *rsp)
{
	rsp[0] = (uint8_t)(fc | 0x80);
	rsp[1] = code;
	return 2;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static enum reg_table table_of_function(uint8_t fc)
{
	switch (fc) {
	case 0x01:
	case 0x05:
	case 0x0F:
		return TABLE_COIL;
	case 0x02:
		return TABLE_DISCRETE;
	case 0x03:
	case 0x06:
	case 0x10:
		return TABLE_HOLDING;
	case 0x04:
		return TABLE_INPUT;
	default:
		return TABLE_INVALID;
	}
}

static bool range_ok(const struct sim_dev *d, enum reg_table t, uint32_t addr, uint32_t n)
{
	const struct sim_table *tb = &d->tables[t];

	return tb->count && addr >= tb->lo && addr + n <= (uint32_t)tb->lo + tb->count;
}

size_t sim_dev_handle(struct sim_dev *d, const uint8_t *req, size_t len, uint8_t *rsp)
{
	uint8_t fc;
	enum reg_table t;
	uint16_t addr, n, v;
	uint32_t i;

	if (len < 1)
		return 0;
	fc = req[0];
	t = table_of_function(fc);
	if (t == TABLE_INVALID)
		return exception(fc, MB_EX_ILLEGAL_FUNCTION, rsp);
	if (len < 5)
		return exception(fc, MB_EX_ILLEGAL_VALUE, rsp);
	addr = get16(req + 1);
	n = get16(req + 3);
	switch (fc) {
	case 0x01:
	case 0x02: /* quantity limits: Modbus spec §6.1, §6.2 */
		if (len != 5 || n < 1 || n > 2000)
			return exception(fc, MB_EX_ILLEGAL_VALUE, rsp);
		if (!range_ok(d, t, addr, n))
			return exception(fc, MB_EX_ILLEGAL_ADDRESS, rsp);
		rsp[0] = fc;
		rsp[1] = (uint8_t)((n + 7) / 8);
		memset(rsp + 2, 0, rsp[1]);
		for (i = 0; i < n; i++)
			if (*table_word(d, t, addr + i))
				rsp[2 + i / 8] |= (uint8_t)(1u << (i % 8));
		return 2u + rsp[1];
	case 0x03:
	case 0x04: /* §6.3, §6.4: at most 125 registers */
		if (len != 5 || n < 1 || n > 125)
			return exception(fc, MB_EX_ILLEGAL_VALUE, rsp);
		if (!range_ok(d, t, addr, n))
			return exception(fc, MB_EX_ILLEGAL_ADDRESS, rsp);
		rsp[0] = fc;
		rsp[1] = (uint8_t)(n * 2);
		for (i = 0; i < n; i++) {
			v = *table_word(d, t, addr + i);
			rsp[2 + 2 * i] = (uint8_t)(v >> 8);
			rsp[3 + 2 * i] = (uint8_t)(v & 0xff);
		}
		return 2u + rsp[1];
	case 0x05: /* §6.5: 0xFF00 on, 0x0000 off, anything else illegal */
		if (len != 5 || (n != 0xFF00 && n != 0x0000))
			return exception(fc, MB_EX_ILLEGAL_VALUE, rsp);
		if (!range_ok(d, t, addr, 1))
			return exception(fc, MB_EX_ILLEGAL_ADDRESS, rsp);
		*table_word(d, t, addr) = n ? 1 : 0;
		memcpy(rsp, req, 5);
		return 5;
	case 0x06:
		if (len != 5)
			return exception(fc, MB_EX_ILLEGAL_VALUE, rsp);
		if (!range_ok(d, t, addr, 1))
			return exception(fc, MB_EX_ILLEGAL_ADDRESS, rsp);
		*table_word(d, t, addr) = n;
		memcpy(rsp, req, 5);
		return 5;
	case 0x0F: /* §6.11: 1..1968 coils, byte count must match */
		if (len < 6 || n < 1 || n > 1968 || req[5] != (n + 7) / 8 || len != 6u + req[5])
			return exception(fc, MB_EX_ILLEGAL_VALUE, rsp);
		if (!range_ok(d, t, addr, n))
			return exception(fc, MB_EX_ILLEGAL_ADDRESS, rsp);
		for (i = 0; i < n; i++)
			*table_word(d, t, addr + i) = (req[6 + i / 8] >> (i % 8)) & 1;
		memcpy(rsp, req, 5);
		return 5;
	case 0x10: /* §6.12: 1..123 registers */
		if (len < 6 || n < 1 || n > 123 || req[5] != n * 2 || len != 6u + req[5])
			return exception(fc, MB_EX_ILLEGAL_VALUE, rsp);
		if (!range_ok(d, t, addr, n))
			return exception(fc, MB_EX_ILLEGAL_ADDRESS, rsp);
		for (i = 0; i < n; i++)
			*table_word(d, t, addr + i) = get16(req + 6 + 2 * i);
		memcpy(rsp, req, 5);
		return 5;
	}
	return exception(fc, MB_EX_ILLEGAL_FUNCTION, rsp);
}

size_t sim_expected_rsp_len(const uint8_t *req, size_t len)
{
	uint16_t n;

	if (len < 5)
		return 2;
	n = get16(req + 3);
	switch (req[0]) {
	case 0x01:
	case 0x02:
		return n <= 2000 ? 2u + (n + 7u) / 8u : 2;
	case 0x03:
	case 0x04:
		return n <= 125 ? 2u + 2u * n : 2;
	case 0x05:
	case 0x06:
	case 0x0F:
	case 0x10:
		return 5;
	default:
		return 2;
	}
}

uint16_t sim_crc16(const uint8_t *buf, size_t len)
{
	uint16_t crc = 0xFFFF;
	size_t i;
	int b;

	for (i = 0; i < len; i++) {
		crc ^= buf[i];
		for (b = 0; b < 8; b++)
			crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
	}
	return crc;
}

int sim_rtu_frame_len(const uint8_t *buf, size_t len)
{
	if (len < 2)
		return 0;
	switch (buf[1]) {
	case 0x01:
	case 0x02:
	case 0x03:
	case 0x04:
	case 0x05:
	case 0x06:
		return 8; /* unit fc addr(2) n/value(2) crc(2) */
	case 0x0F:
	case 0x10:
		if (len < 7)
			return 0;
		return 9 + buf[6]; /* unit fc addr(2) n(2) count data crc(2) */
	default:
		return -1;
	}
}
