/* sim_net.c - the wire side of firegw-sim: Modbus TCP (MBAP framing, many
 * clients), Modbus RTU on a tty (frames cut by length or by the 3.5
 * character silence, CRC checked, answered per unit, optionally paced at
 * the line's baud), and the line-based control socket. Applies the field
 * fault modes (silent, slow, exception, badcrc, garbage, wrongunit, badlen) here
 * because they are about framing. Owns every fd it opens; called only from
 * the poll loop thread in sim_main.c. */
#include "sim.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define MAX_PORTS 512
#define LISTEN_BACKLOG 64
#define MBAP_LEN 7

enum port_kind { PORT_INVALID = -1, PORT_TCP_LISTEN, PORT_TCP, PORT_RTU, PORT_CTL_LISTEN, PORT_CTL, PORT_MAX };

struct pending {
	uint64_t due_us;
	int dev;
	size_t len;
	uint8_t buf[SIM_ADU_MAX];
};

struct port {
	enum port_kind kind;
	int fd;
	int bus;
	bool closed;
	uint8_t in[SIM_IN_MAX];
	size_t in_len;
	uint64_t last_rx_us;
	uint64_t silence_us; /* RTU: 3.5 characters, at least 2 ms */
	uint8_t out[SIM_OUT_MAX];
	size_t out_len;
	bool pace;
	double byte_us; /* RTU: one character on the line */
	uint64_t pace_start_us;
	size_t pace_sent;
	struct pending pending[SIM_PENDING_MAX];
	size_t n_pending;
};

struct sim_net {
	struct sim *s;
	struct port *ports[MAX_PORTS];
	size_t n;
	uint32_t rng;
	char ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

int sim_net_create(struct sim *s, struct sim_net **ret)
{
	struct sim_net *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->s = s;
	n->rng = (uint32_t)(sim_now_us() | 1);
	*ret = n;
	return 0;
}

static void port_close(struct port *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->closed = true;
}

void sim_net_free(struct sim_net *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->n; i++) {
		port_close(n->ports[i]);
		free(n->ports[i]);
	}
	if (n->ctl_path[0])
		unlink(n->ctl_path);
	free(n);
}

static struct port *port_add(struct sim_net *n, enum port_kind kind, int fd, int bus)
{
	struct port *p;

	if (n->n == MAX_PORTS) {
		log_warning("too many connections (%d), refusing one", MAX_PORTS);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->kind = kind;
	p->fd = fd;
	p->bus = bus;
	n->ports[n->n++] = p;
	return p;
}

static uint32_t rng_next(struct sim_net *n)
{
	/* xorshift32: garbage only has to look random, not be unpredictable */
	n->rng ^= n->rng << 13;
	n->rng ^= n->rng >> 17;
	n->rng ^= n->rng << 5;
	return n->rng;
}

int sim_net_listen_tcp(struct sim_net *n, int bus, const char *host, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char hbuf[NI_MAXHOST], pbuf[NI_MAXSERV];
	int fd = -1, one = 1, r, err = 0;

	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0) {
		log_error("bus '%s': cannot resolve '%s' port '%s': %s", n->s->cfg->buses[bus].id,
			  host, port, gai_strerror(r));
		return -EINVAL;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, LISTEN_BACKLOG) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		log_error("bus '%s': cannot listen on %s:%s: %s (use --tcp %s=127.0.0.1:PORT)",
			  n->s->cfg->buses[bus].id, host, port, strerror(err),
			  n->s->cfg->buses[bus].id);
		return -err;
	}
	if (!port_add(n, PORT_TCP_LISTEN, fd, bus)) {
		close(fd);
		return -ENOMEM;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    getnameinfo((struct sockaddr *)&ss, sl, hbuf, sizeof(hbuf), pbuf, sizeof(pbuf),
			NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		log_info("bus '%s': Modbus TCP on %s:%s", n->s->cfg->buses[bus].id, hbuf, pbuf);
	return 0;
}

static int baud_speed(int baud, speed_t *ret)
{
	static const struct {
		int baud;
		speed_t speed;
	} map[] = { { 1200, B1200 },	 { 2400, B2400 },     { 4800, B4800 },	   { 9600, B9600 },
		    { 19200, B19200 },	 { 38400, B38400 },   { 57600, B57600 },   { 115200, B115200 },
		    { 230400, B230400 }, { 460800, B460800 }, { 921600, B921600 } };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(map); i++) {
		if (map[i].baud == baud) {
			*ret = map[i].speed;
			return 0;
		}
	}
	return -EINVAL;
}

int sim_net_open_rtu(struct sim_net *n, int bus, const char *path, bool pace)
{
	const struct cfg_bus *b = &n->s->cfg->buses[bus];
	struct termios tio;
	struct port *p;
	speed_t speed;
	double bits;
	int fd, r;

	if (baud_speed(b->baud, &speed) < 0) {
		log_error("bus '%s': baud %d is not a standard rate", b->id, b->baud);
		return -EINVAL;
	}
	fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		log_error("bus '%s': cannot open '%s': %s", b->id, path, strerror(errno));
		return r;
	}
	if (tcgetattr(fd, &tio) < 0) {
		r = -errno;
		log_error("bus '%s': '%s' is not a tty: %s", b->id, path, strerror(errno));
		goto out_close;
	}
	cfmakeraw(&tio);
	cfsetispeed(&tio, speed);
	cfsetospeed(&tio, speed);
	tio.c_cflag &= (tcflag_t)~(CSIZE | PARENB | PARODD | CSTOPB);
	tio.c_cflag |= CLOCAL | CREAD | (b->data_bits == 7 ? CS7 : CS8);
	if (b->parity == 'E' || b->parity == 'O')
		tio.c_cflag |= PARENB | (b->parity == 'O' ? PARODD : 0);
	if (b->stop_bits == 2)
		tio.c_cflag |= CSTOPB;
	tio.c_cc[VMIN] = 0;
	tio.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSANOW, &tio) < 0) {
		r = -errno;
		log_error("bus '%s': cannot configure '%s': %s", b->id, path, strerror(errno));
		goto out_close;
	}
	tcflush(fd, TCIOFLUSH);
	p = port_add(n, PORT_RTU, fd, bus);
	if (!p) {
		r = -ENOMEM;
		goto out_close;
	}
	/* start + data + parity + stop bits per character */
	bits = 1.0 + (b->data_bits == 7 ? 7 : 8) + (b->parity == 'E' || b->parity == 'O' ? 1 : 0) +
	       (b->stop_bits == 2 ? 2 : 1);
	p->byte_us = bits * 1e6 / b->baud;
	p->silence_us = (uint64_t)(3.5 * p->byte_us);
	/* A pty delivers in bursts whatever the baud: 2 ms floor. */
	if (p->silence_us < 2000)
		p->silence_us = 2000;
	p->pace = pace;
	log_info("bus '%s': Modbus RTU on %s at %d %c%d%d%s", b->id, path, b->baud, b->parity,
		 b->data_bits, b->stop_bits, pace ? ", paced" : "");
	return 0;

out_close:
	close(fd);
	return r;
}

int sim_net_listen_ctl(struct sim_net *n, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, r;

	if (util_strlcpy(sa.sun_path, path, sizeof(sa.sun_path)) < 0) {
		log_error("--ctl '%s': path longer than %zu bytes, use a shorter one", path,
			  sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("--ctl '%s': exists and is not a socket, choose another path", path);
			r = -EEXIST;
			goto out_close;
		}
		/* A live simulator answers connect(); a stale file does not. */
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN) {
			log_error("--ctl '%s': another simulator is listening there", path);
			r = -EADDRINUSE;
			goto out_close;
		}
		close(fd);
		unlink(path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
	}
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || chmod(path, 0600) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		r = -errno;
		log_error("--ctl '%s': %s", path, strerror(errno));
		goto out_close;
	}
	if (!port_add(n, PORT_CTL_LISTEN, fd, -1)) {
		unlink(path);
		r = -ENOMEM;
		goto out_close;
	}
	util_strlcpy(n->ctl_path, path, sizeof(n->ctl_path));
	return 0;

out_close:
	close(fd);
	return r;
}

/* Writes what the port may write now; marks it closed on a hard error. */
static void port_write(struct port *p, uint64_t now)
{
	size_t want = p->out_len;
	ssize_t w;

	if (p->closed || want == 0)
		return;
	if (p->pace) {
		size_t allowed = (size_t)((double)(now - p->pace_start_us) / p->byte_us) + 1;

		if (allowed <= p->pace_sent)
			return;
		if (want > allowed - p->pace_sent)
			want = allowed - p->pace_sent;
	}
	if (p->kind == PORT_RTU)
		w = write(p->fd, p->out, want);
	else
		w = send(p->fd, p->out, want, MSG_NOSIGNAL);
	if (w < 0) {
		if (errno != EAGAIN && errno != EINTR) {
			log_debug("write: %s, closing", strerror(errno));
			port_close(p);
		} else if (p->pace) {
			/* Nobody reads the line: retry in 1 ms, not in a busy loop. */
			p->pace_start_us = now + 1000 - (uint64_t)((double)p->pace_sent * p->byte_us);
		}
		return;
	}
	memmove(p->out, p->out + w, p->out_len - (size_t)w);
	p->out_len -= (size_t)w;
	p->pace_sent += (size_t)w;
}

static void port_queue(struct port *p, const void *buf, size_t len, uint64_t now)
{
	if (len > SIM_OUT_MAX - p->out_len) {
		log_warning("output buffer full, reply dropped");
		return;
	}
	if (p->out_len == 0) {
		p->pace_start_us = now;
		p->pace_sent = 0;
	}
	memcpy(p->out + p->out_len, buf, len);
	p->out_len += len;
	port_write(p, now);
}

static int find_unit(const struct sim *s, int bus, int unit)
{
	size_t i;

	for (i = 0; i < s->n_devs; i++)
		if (s->devs[i].bus == bus && s->devs[i].unit == unit)
			return (int)i;
	return -1;
}

/* Sends adu now or after the device's slow delay; counts it answered. */
static void reply(struct sim_net *n, struct port *p, int dev, const uint8_t *adu, size_t len,
		  uint64_t now)
{
	struct sim_dev *d = &n->s->devs[dev];
	struct pending *pd;

	if (d->mode == SIM_MODE_SLOW && d->mode_arg > 0) {
		if (p->n_pending == SIM_PENDING_MAX) {
			log_warning("'%s': too many delayed replies, one dropped", d->cfg->id);
			return;
		}
		pd = &p->pending[p->n_pending++];
		pd->due_us = now + (uint64_t)d->mode_arg * 1000u;
		pd->dev = dev;
		pd->len = len;
		memcpy(pd->buf, adu, len);
		return;
	}
	d->answered++;
	port_queue(p, adu, len, now);
}

/* The response PDU the device's mode calls for. 0: stay silent. */
static size_t make_pdu(struct sim_net *n, struct sim_dev *d, const uint8_t *req, size_t len,
		       uint8_t *pdu)
{
	size_t i, rl;

	switch (d->mode) {
	case SIM_MODE_SILENT:
		return 0;
	case SIM_MODE_EXCEPTION:
		pdu[0] = (uint8_t)(req[0] | 0x80);
		pdu[1] = (uint8_t)d->mode_arg;
		return 2;
	case SIM_MODE_GARBAGE:
		rl = sim_expected_rsp_len(req, len);
		for (i = 0; i < rl; i++)
			pdu[i] = (uint8_t)rng_next(n);
		/* never a function code the master could take for an answer */
		if (rl > 0 && (pdu[0] & 0x7f) == (req[0] & 0x7f))
			pdu[0] = (uint8_t)(pdu[0] ^ 0x40);
		return rl;
	default:
		return sim_dev_handle(d, req, len, pdu);
	}
}

static void rtu_frame(struct sim_net *n, struct port *p, const uint8_t *f, size_t len, uint64_t now)
{
	struct sim *s = n->s;
	uint8_t adu[SIM_ADU_MAX], scratch[SIM_PDU_MAX];
	struct sim_dev *d;
	uint16_t crc;
	size_t pl, i;
	int dev;

	if (len < 4 || sim_crc16(f, len - 2) != (uint16_t)(f[len - 2] | f[len - 1] << 8)) {
		log_debug("bus '%s': %zu bytes with a bad CRC ignored", s->cfg->buses[p->bus].id, len);
		return;
	}
	if (f[0] == 0) {
		/* Broadcast (Modbus over serial line §2.2): writes apply to
		 * every unit of the bus, nobody answers. */
		for (i = 0; i < s->n_devs; i++)
			if (s->devs[i].bus == p->bus)
				sim_dev_handle(&s->devs[i], f + 1, len - 3, scratch);
		return;
	}
	dev = find_unit(s, p->bus, f[0]);
	sim_count_request(s, p->bus, dev, now);
	if (dev < 0)
		return; /* not ours: silence, as on a real bus */
	d = &s->devs[dev];
	if (s->verbose)
		log_debug("'%s' (unit %d): function 0x%02x, %zu bytes", d->cfg->id, d->unit, f[1], len);
	pl = make_pdu(n, d, f + 1, len - 3, adu + 1);
	if (pl == 0)
		return;
	adu[0] = (uint8_t)(d->mode == SIM_MODE_WRONGUNIT ? (f[0] + 1) & 0xff : f[0]);
	/* a byte count one more than the bytes sent, with a good CRC */
	if (d->mode == SIM_MODE_BADLEN && pl >= 2)
		adu[2] = (uint8_t)(adu[2] + 1);
	crc = sim_crc16(adu, 1 + pl);
	/* garbage must not pass the CRC check by chance either */
	if (d->mode == SIM_MODE_BADCRC || d->mode == SIM_MODE_GARBAGE)
		crc ^= 0x5a5a;
	adu[1 + pl] = (uint8_t)(crc & 0xff);
	adu[2 + pl] = (uint8_t)(crc >> 8);
	reply(n, p, dev, adu, pl + 3, now);
}

static void rtu_input(struct sim_net *n, struct port *p, uint64_t now)
{
	int fl;

	while (p->in_len >= 2) {
		fl = sim_rtu_frame_len(p->in, p->in_len);
		if (fl <= 0)
			return; /* more bytes, or the silence decides */
		if (fl > SIM_ADU_MAX) {
			p->in_len = 0;
			return;
		}
		if (p->in_len < (size_t)fl)
			return;
		if (sim_crc16(p->in, (size_t)fl - 2) !=
		    (uint16_t)(p->in[fl - 2] | p->in[fl - 1] << 8)) {
			/* Out of step: drop everything, resync at the next silence. */
			log_debug("bus '%s': frame with a bad CRC ignored", n->s->cfg->buses[p->bus].id);
			p->in_len = 0;
			return;
		}
		rtu_frame(n, p, p->in, (size_t)fl, now);
		memmove(p->in, p->in + fl, p->in_len - (size_t)fl);
		p->in_len -= (size_t)fl;
	}
}

static void tcp_frame(struct sim_net *n, struct port *p, const uint8_t *f, size_t len, uint64_t now)
{
	struct sim *s = n->s;
	uint8_t adu[SIM_ADU_MAX];
	struct sim_dev *d;
	size_t pl, l;
	int dev;

	memcpy(adu, f, MBAP_LEN);
	dev = find_unit(s, p->bus, f[6]);
	sim_count_request(s, p->bus, dev, now);
	if (dev < 0) {
		/* Modbus TCP has no silence for a missing unit: a gateway
		 * answers 0x0B, "target device failed to respond" (§7). */
		adu[7] = (uint8_t)(f[7] | 0x80);
		adu[8] = MB_EX_GW_TARGET_FAILED;
		adu[4] = 0;
		adu[5] = 3;
		port_queue(p, adu, 9, now);
		return;
	}
	d = &s->devs[dev];
	if (s->verbose)
		log_debug("'%s' (unit %d): function 0x%02x", d->cfg->id, d->unit, f[7]);
	if (d->mode == SIM_MODE_BADCRC) {
		/* TCP has no CRC: a corrupted answer is garbage. */
		enum sim_mode m = d->mode;

		d->mode = SIM_MODE_GARBAGE;
		pl = make_pdu(n, d, f + 7, len - 7, adu + 7);
		d->mode = m;
	} else {
		pl = make_pdu(n, d, f + 7, len - 7, adu + 7);
	}
	if (pl == 0)
		return;
	if (d->mode == SIM_MODE_WRONGUNIT)
		adu[6] = (uint8_t)((f[6] + 1) & 0xff);
	/* badlen: the MBAP length says one byte more, then one less, than
	 * the frame carries (unit id + PDU), the PDU itself well formed */
	l = pl + 1;
	if (d->mode == SIM_MODE_BADLEN)
		l = d->answered % 2 ? l - 1 : l + 1;
	adu[4] = (uint8_t)(l >> 8);
	adu[5] = (uint8_t)(l & 0xff);
	reply(n, p, dev, adu, MBAP_LEN + pl, now);
}

static void tcp_input(struct sim_net *n, struct port *p, uint64_t now)
{
	size_t flen, proto, l;

	while (p->in_len >= MBAP_LEN + 1) {
		proto = (size_t)(p->in[2] << 8 | p->in[3]);
		l = (size_t)(p->in[4] << 8 | p->in[5]);
		/* MBAP length counts unit + PDU: 2..254 (Modbus TCP §3.1.3) */
		if (proto != 0 || l < 2 || l > SIM_PDU_MAX + 1) {
			log_debug("bus '%s': bad MBAP header, closing", n->s->cfg->buses[p->bus].id);
			port_close(p);
			return;
		}
		flen = 6 + l;
		if (p->in_len < flen)
			return;
		tcp_frame(n, p, p->in, flen, now);
		memmove(p->in, p->in + flen, p->in_len - flen);
		p->in_len -= flen;
	}
}

static void ctl_input(struct sim_net *n, struct port *p, uint64_t now)
{
	char reply_line[SIM_LINE_MAX + 1];
	char line[SIM_LINE_MAX];
	uint8_t *nl;
	size_t ll, rl;

	while ((nl = memchr(p->in, '\n', p->in_len))) {
		ll = (size_t)(nl - p->in);
		if (ll >= sizeof(line)) {
			snprintf(reply_line, sizeof(reply_line), "error: line longer than %d bytes",
				 SIM_LINE_MAX - 1);
		} else {
			memcpy(line, p->in, ll);
			line[ll] = '\0';
			if (ll && line[ll - 1] == '\r')
				line[ll - 1] = '\0';
			sim_cmd_run(n->s, line, reply_line, sizeof(reply_line) - 1);
		}
		rl = strlen(reply_line);
		reply_line[rl++] = '\n';
		port_queue(p, reply_line, rl, now);
		memmove(p->in, nl + 1, p->in_len - ll - 1);
		p->in_len -= ll + 1;
	}
	if (p->in_len == sizeof(p->in)) {
		static const char msg[] = "error: line too long\n";

		port_queue(p, msg, sizeof(msg) - 1, now);
		port_write(p, now);
		port_close(p);
	}
}

static void port_accept(struct sim_net *n, struct port *l)
{
	int fd;

	fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warning("accept: %s", strerror(errno));
		return;
	}
	if (!port_add(n, l->kind == PORT_TCP_LISTEN ? PORT_TCP : PORT_CTL, fd, l->bus))
		close(fd);
}

static void port_read(struct sim_net *n, struct port *p, uint64_t now)
{
	ssize_t r;

	if (p->in_len == sizeof(p->in)) {
		/* A full buffer that framing could not consume is noise. */
		p->in_len = 0;
	}
	r = read(p->fd, p->in + p->in_len, sizeof(p->in) - p->in_len);
	if (r < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		if (p->kind == PORT_RTU) {
			/* The master end of the pty closed: keep serving, it may reopen. */
			log_debug("bus '%s': %s", n->s->cfg->buses[p->bus].id, strerror(errno));
			return;
		}
		port_close(p);
		return;
	}
	if (r == 0) {
		if (p->kind != PORT_RTU)
			port_close(p);
		return;
	}
	p->in_len += (size_t)r;
	p->last_rx_us = now;
	switch (p->kind) {
	case PORT_RTU:
		rtu_input(n, p, now);
		break;
	case PORT_TCP:
		tcp_input(n, p, now);
		break;
	case PORT_CTL:
		ctl_input(n, p, now);
		break;
	default:
		break;
	}
}

static uint64_t port_deadline(const struct port *p)
{
	uint64_t t = UINT64_MAX;
	size_t i;

	if (p->kind == PORT_RTU && p->in_len)
		t = p->last_rx_us + p->silence_us;
	for (i = 0; i < p->n_pending; i++)
		if (p->pending[i].due_us < t)
			t = p->pending[i].due_us;
	if (p->pace && p->out_len) {
		uint64_t nb = p->pace_start_us + (uint64_t)((double)p->pace_sent * p->byte_us);

		if (nb < t)
			t = nb;
	}
	return t;
}

size_t sim_net_pollfds(struct sim_net *n, struct pollfd *fds, size_t max, uint64_t *deadline)
{
	size_t i, k = 0;
	uint64_t t;

	for (i = 0; i < n->n && k < max; i++) {
		struct port *p = n->ports[i];

		fds[k].fd = p->fd;
		fds[k].events = 0;
		fds[k].revents = 0;
		/* Stop reading a client that does not read its answers. */
		if (p->out_len < SIM_OUT_MAX / 2)
			fds[k].events |= POLLIN;
		if (p->out_len && !p->pace)
			fds[k].events |= POLLOUT;
		k++;
		t = port_deadline(p);
		if (t < *deadline)
			*deadline = t;
	}
	return k;
}

static void compact(struct sim_net *n)
{
	size_t i = 0;

	while (i < n->n) {
		if (n->ports[i]->closed) {
			free(n->ports[i]);
			n->ports[i] = n->ports[--n->n];
		} else {
			i++;
		}
	}
}

void sim_net_dispatch(struct sim_net *n, const struct pollfd *fds, size_t nfds)
{
	uint64_t now = sim_now_us();
	size_t i, count = nfds < n->n ? nfds : n->n;

	/* Accepted ports are appended past count, so indexes stay valid. */
	for (i = 0; i < count; i++) {
		struct port *p = n->ports[i];
		short re = fds[i].revents;

		if (!re || p->closed)
			continue;
		if (p->kind == PORT_TCP_LISTEN || p->kind == PORT_CTL_LISTEN) {
			port_accept(n, p);
			continue;
		}
		if (re & POLLOUT)
			port_write(p, now);
		if (re & (POLLIN | POLLHUP | POLLERR)) {
			if (p->kind == PORT_RTU && !(re & POLLIN)) {
				/* pty peer closed: nothing to read until it reopens */
				continue;
			}
			port_read(n, p, now);
		}
	}
	compact(n);
}

void sim_net_timers(struct sim_net *n, uint64_t now)
{
	size_t i, j;

	for (i = 0; i < n->n; i++) {
		struct port *p = n->ports[i];

		if (p->closed)
			continue;
		if (p->kind == PORT_RTU && p->in_len && now >= p->last_rx_us + p->silence_us) {
			/* 3.5 characters of silence end the frame (serial line §2.5.1.1) */
			rtu_frame(n, p, p->in, p->in_len, now);
			p->in_len = 0;
		}
		j = 0;
		while (j < p->n_pending) {
			if (p->pending[j].due_us <= now) {
				struct pending *pd = &p->pending[j];

				n->s->devs[pd->dev].answered++;
				port_queue(p, pd->buf, pd->len, now);
				p->pending[j] = p->pending[--p->n_pending];
			} else {
				j++;
			}
		}
		if (p->pace && p->out_len)
			port_write(p, now);
	}
	compact(n);
}

void sim_net_flush(struct sim_net *n)
{
	size_t i;

	for (i = 0; i < n->n; i++)
		if (n->ports[i]->kind == PORT_CTL && n->ports[i]->out_len)
			port_write(n->ports[i], sim_now_us());
}
