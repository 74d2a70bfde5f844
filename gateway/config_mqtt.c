/* config_mqtt.c - the mqtt section of the configuration file: its keys,
 * the broker node list (schemes, ports, hosts, no duplicates, no mix of
 * plain and TLS), the topic prefix, and the TLS and secret files, checked
 * the way the first connect would read them so that `check` refuses what
 * `run` would. Part of the configuration parser (config.c calls
 * config_parse_mqtt); main thread only. */
#include "config_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secret.h"
#include "util.h"

static const struct yval_field mqtt_fields[] = {
	YV_F_NODE("uri"),
	YV_F_NODE("version"),
	YV_F_STR(struct cfg_mqtt, client_id),
	YV_F_STR(struct cfg_mqtt, topic_prefix),
	YV_F_INT(struct cfg_mqtt, keepalive_s, 2, 3600),
	YV_F_INT(struct cfg_mqtt, heartbeat_s, 5, 3600),
	YV_F_INT(struct cfg_mqtt, telemetry_s, 0, 86400),
	YV_F_INT(struct cfg_mqtt, telemetry_qos, 0, 1),
	YV_F_INT(struct cfg_mqtt, inflight, 1, 1024),
	YV_F_INT(struct cfg_mqtt, ack_stall_s, 1, 600),
	YV_F_INT(struct cfg_mqtt, reconnect_max_s, 1, 3600),
	YV_F_INT(struct cfg_mqtt, connect_timeout_s, 1, 600),
	YV_F_INT(struct cfg_mqtt, ack_timeout_s, 0, 86400),
	YV_F_INT(struct cfg_mqtt, periodic_test_h, 6, 168),
	YV_F_INT(struct cfg_mqtt, max_packet_kb, 16, 262143),
	YV_F_NODE("tls"),
	YV_F_STR(struct cfg_mqtt, username),
	YV_F_STR(struct cfg_mqtt, password_file),
};

static const struct yval_field tls_fields[] = {
	YV_F_STR(struct cfg_mqtt, ca_file),
	YV_F_STR(struct cfg_mqtt, cert_file),
	YV_F_STR(struct cfg_mqtt, key_file),
	YV_F_STR(struct cfg_mqtt, key_password_file),
};

/* Only the schemes the tests run (WebSockets are not: refused rather than
 * promised). `check` refuses what `run` would refuse, so a service with
 * Restart=always never loops on a configuration check passed. */
static const char *const uri_schemes[] = { "tcp://", "ssl://", "mqtt://", "mqtts://" };

static void check_uri(struct ctx *x, const struct ynode *v, const char *uri)
{
	const char *host, *colon, *end;
	size_t i;
	long port;

	for (i = 0; i < ARRAY_SIZE(uri_schemes); i++) {
		size_t n = strlen(uri_schemes[i]);

		if (strncmp(uri, uri_schemes[i], n) != 0)
			continue;
		host = uri + n;
		/* what `run` takes as a host: printable ASCII, no blank (a
		 * newline or an escape in a uri passed check and failed run) */
		for (const char *c = host; *c; c++)
			if (*c <= ' ' || *c >= 0x7f) {
				err(x, v, "mqtt: uri '" CLIP "' holds a blank, a control character "
					  "or a non-ASCII byte; write e.g. tcp://broker.example:1883",
				    uri);
				return;
			}
		if (host[0] == '\0' || host[0] == ':' || host[0] == '/') {
			err(x, v, "mqtt: uri '" CLIP "' has no host; write e.g. tcp://127.0.0.1:1883",
			    uri);
			return;
		}
		/* [v6]:port or host:port; the port, when given, 1..65535 */
		if (host[0] == '[') {
			end = strchr(host, ']');
			colon = end && end[1] == ':' ? end + 1 : NULL;
			if (!end || (end[1] && end[1] != ':' && end[1] != '/')) {
				err(x, v, "mqtt: uri '" CLIP "': an IPv6 address is written [addr]:port",
				    uri);
				return;
			}
		} else {
			colon = strchr(host, ':');
		}
		if (colon) {
			char digits[8];
			size_t k = strcspn(colon + 1, "/");

			if (k == 0 || k >= sizeof(digits) ||
			    (memcpy(digits, colon + 1, k), digits[k] = '\0',
			     util_parse_long(digits, 1, 65535, &port) < 0))
				err(x, v, "mqtt: uri '" CLIP "': the port must be 1..65535, e.g. "
					  "%shost:1883", uri, uri_schemes[i]);
		}
		return;
	}
	err(x, v, "mqtt: uri '" CLIP "' must start with tcp://, ssl://, mqtt:// or mqtts://; e.g. "
		  "tcp://127.0.0.1:1883 or ssl://host:8883",
	    uri);
}

static bool uri_is_tls(const char *uri)
{
	return strncmp(uri, "ssl://", 6) == 0 || strncmp(uri, "mqtts://", 8) == 0;
}

/* mqtt.uri: one URI, or a list of 1..CONFIG_MQTT_URIS_MAX nodes of one
 * cluster. A list is one service reached at several addresses, so it must
 * not name a node twice (a duplicate doubles that node's share of the
 * attempts) nor mix plain and TLS nodes (the tls block applies to all, and
 * a plain fallback would silently drop encryption). */
static void parse_uris(struct ctx *x, const struct ynode *v)
{
	struct cfg_mqtt *m = &x->c->mqtt;
	const struct ynode *first_tls = NULL, *first_plain = NULL;
	size_t i, k;

	m->n_uris = 0;
	if (v->kind == YNODE_SCALAR) {
		if (yval_str(&x->y, "mqtt", "uri", v, m->uris[0], sizeof(m->uris[0]))) {
			check_uri(x, v, m->uris[0]);
			m->n_uris = 1;
		}
	} else if (v->kind != YNODE_SEQ) {
		err(x, v, "mqtt: uri: expected a URI such as tcp://127.0.0.1:1883 or a list of "
			  "a cluster's node URIs, got a %s",
		    ynode_kind_name(v->kind));
	} else if (v->n == 0) {
		err(x, v, "mqtt: uri: the list of broker nodes is empty; give 1 to %d URIs",
		    CONFIG_MQTT_URIS_MAX);
	} else if (v->n > CONFIG_MQTT_URIS_MAX) {
		err(x, v->values[CONFIG_MQTT_URIS_MAX],
		    "mqtt: uri: %zu broker nodes listed, at most %d; list the nodes (or load "
		    "balancers) of one cluster",
		    v->n, CONFIG_MQTT_URIS_MAX);
	} else {
		for (i = 0; i < v->n; i++) {
			const struct ynode *e = v->values[i];
			char *u = m->uris[m->n_uris];

			if (!yval_str(&x->y, "mqtt", "uri entry", e, u, sizeof(m->uris[0])))
				continue;
			check_uri(x, e, u);
			for (k = 0; k < m->n_uris; k++)
				if (strcmp(m->uris[k], u) == 0)
					break;
			if (k < m->n_uris) {
				err(x, e, "mqtt: uri '" CLIP "' is listed twice; list each node once",
				    u);
				continue;
			}
			if (uri_is_tls(u) && !first_tls)
				first_tls = e;
			if (!uri_is_tls(u) && !first_plain)
				first_plain = e;
			m->n_uris++;
		}
		if (first_tls && first_plain) {
			const struct ynode *later =
				first_tls->line > first_plain->line ||
						(first_tls->line == first_plain->line &&
						 first_tls->col > first_plain->col)
					? first_tls
					: first_plain;

			err(x, later, "mqtt: uri: the list mixes plain (tcp://, mqtt://) and TLS "
				      "(ssl://, mqtts://) nodes; use one kind for every node");
		}
	}
	if (m->n_uris > 0)
		util_strlcpy(m->uri, m->uris[0], sizeof(m->uri));
	else
		m->n_uris = 1; /* errors above; keep the default so nothing reads garbage */
}

/* The prefix is the first levels of every topic, so it must be a valid
 * topic name itself and never match more than it names. */
static void check_topic_prefix(struct ctx *x, const struct ynode *v, const char *p)
{
	const char *s;

	if (p[0] == '\0') {
		err(x, v, "mqtt: topic_prefix is empty; use e.g. firegw or pccc/tien-giang");
		return;
	}
	if (strpbrk(p, "+#")) {
		err(x, v, "mqtt: topic_prefix '" CLIP "' contains a wildcard ('+' or '#'); use plain "
			  "topic levels such as pccc/tien-giang",
		    p);
		return;
	}
	if (p[0] == '$') {
		err(x, v, "mqtt: topic_prefix '" CLIP "' starts with '$', which brokers reserve; "
			  "choose another name",
		    p);
		return;
	}
	if (p[0] == '/' || p[strlen(p) - 1] == '/' || strstr(p, "//")) {
		err(x, v, "mqtt: topic_prefix '" CLIP "' has an empty topic level (a leading, "
			  "trailing or double '/'); write levels like pccc/tien-giang",
		    p);
		return;
	}
	for (s = p; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			err(x, v, "mqtt: topic_prefix contains a control character; remove it");
			return;
		}
}

/* A file path of the mqtt section: relative paths are taken from the
 * config file's directory (as profile_dirs), so the daemon, whose working
 * directory is /, reads what `check` read. */
static bool resolve_file(struct ctx *x, const struct ynode *v, const char *key, char *path,
			 size_t size)
{
	char full[PATH_MAX];

	if (path[0] == '\0' || path[0] == '/' || x->dir[0] == '\0')
		return true;
	if ((size_t)snprintf(full, sizeof(full), "%s/%s", x->dir, path) >= size) {
		err(x, v, "mqtt: %s '" CLIP "' is too long once taken from the config's directory; "
			  "give an absolute path",
		    key, path);
		return false;
	}
	util_strlcpy(path, full, size);
	return true;
}

/* A CA, certificate or key file: checked here so that `check` refuses what
 * the first connect would (paho only says "SSL_CTX_..." then). O_NONBLOCK:
 * a FIFO in its place must not hang the check. */
static void check_tls_file(struct ctx *x, const struct ynode *v, const char *key, char *path,
			   size_t size)
{
	char esc[1024];
	struct stat st;
	int fd;

	if (!v || path[0] == '\0' || !resolve_file(x, v, key, path, size))
		return;
	util_escape(path, strlen(path), esc, sizeof(esc));
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err(x, v, "mqtt.tls: %s '%s' cannot be read: %s; the service reads it as user "
			  "firegw (e.g. chown root:firegw, chmod 0640)",
		    key, esc, strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		err(x, v, "mqtt.tls: %s '%s' is not a regular file; give the PEM file", key, esc);
	else if (st.st_size == 0)
		err(x, v, "mqtt.tls: %s '%s' is empty; give the PEM file", key, esc);
	close(fd);
}

/* A password or pass phrase file, read (and forgotten) the way the daemon
 * reads it when connecting: secret_read. */
static void check_secret_file(struct ctx *x, const struct ynode *v, const char *key, char *path,
			      size_t size)
{
	char buf[1025], why[PATH_MAX * 2 + 128], esc[1024];

	if (!v || path[0] == '\0' || !resolve_file(x, v, key, path, size))
		return;
	if (secret_read(path, buf, sizeof(buf), why, sizeof(why)) < 0)
		err(x, v, "mqtt: %s '%s' %s", key, util_escape(path, strlen(path), esc, sizeof(esc)),
		    why);
	explicit_bzero(buf, sizeof(buf));
}

void config_parse_mqtt(struct ctx *x, const struct ynode *v)
{
	struct cfg_mqtt *m = &x->c->mqtt;
	const struct ynode *found[YVAL_FIELD_MAX], *tfound[YVAL_FIELD_MAX], *n;

	if (!yval_is_map(&x->y, "the top level", "mqtt", v))
		return;
	yval_map(&x->y, "mqtt", v, mqtt_fields, ARRAY_SIZE(mqtt_fields), m, found);
	n = found[yval_field_index(mqtt_fields, ARRAY_SIZE(mqtt_fields), "uri")];
	if (n)
		parse_uris(x, n);
	n = found[yval_field_index(mqtt_fields, ARRAY_SIZE(mqtt_fields), "version")];
	if (n && yval_is(&x->y, "mqtt", "version", n, YNODE_SCALAR, "3.1.1 or 5")) {
		if (strcmp(n->scalar, "3.1.1") == 0 || strcmp(n->scalar, "3") == 0)
			m->version = 3;
		else if (strcmp(n->scalar, "5") == 0)
			m->version = 5;
		else
			err(x, n, "mqtt: version: expected 3.1.1 or 5, got '" CLIP "'", n->scalar);
	}
	n = found[yval_field_index(mqtt_fields, ARRAY_SIZE(mqtt_fields), "client_id")];
	if (n && n->kind == YNODE_SCALAR && m->client_id[0] == '\0')
		err(x, n, "mqtt: client_id is empty; remove the key to use firegw-<site.id>");
	n = found[yval_field_index(mqtt_fields, ARRAY_SIZE(mqtt_fields), "topic_prefix")];
	if (n && n->kind == YNODE_SCALAR)
		check_topic_prefix(x, n, m->topic_prefix);
	n = found[yval_field_index(mqtt_fields, ARRAY_SIZE(mqtt_fields), "tls")];
	if (n && yval_is_map(&x->y, "mqtt", "tls", n)) {
		yval_map(&x->y, "mqtt.tls", n, tls_fields, ARRAY_SIZE(tls_fields), m, tfound);
		if ((m->cert_file[0] != '\0') != (m->key_file[0] != '\0'))
			err(x, n, "mqtt.tls: cert_file and key_file go together; give both or neither");
		if (m->key_password_file[0] && !m->key_file[0])
			err(x, n, "mqtt.tls: key_password_file without key_file; it is the pass "
				  "phrase of an encrypted key_file");
		if ((m->ca_file[0] || m->cert_file[0] || m->key_password_file[0]) &&
		    (strncmp(m->uri, "tcp://", 6) == 0 || strncmp(m->uri, "mqtt://", 7) == 0))
			err(x, n, "mqtt.tls is set but uri '" CLIP "' is not encrypted; use ssl:// or "
				  "mqtts:// for TLS",
			    m->uri);
		check_tls_file(x, tfound[0], "ca_file", m->ca_file, sizeof(m->ca_file));
		check_tls_file(x, tfound[1], "cert_file", m->cert_file, sizeof(m->cert_file));
		check_tls_file(x, tfound[2], "key_file", m->key_file, sizeof(m->key_file));
		check_secret_file(x, tfound[3], "tls.key_password_file", m->key_password_file,
				  sizeof(m->key_password_file));
	}
	n = found[yval_field_index(mqtt_fields, ARRAY_SIZE(mqtt_fields), "password_file")];
	if (n && m->password_file[0] && !m->username[0])
		err(x, n, "mqtt: password_file without username; MQTT sends a password only "
			  "with a user name");
	check_secret_file(x, n, "password_file", m->password_file, sizeof(m->password_file));
	n = found[yval_field_index(mqtt_fields, ARRAY_SIZE(mqtt_fields), "max_packet_kb")];
	if (n && m->version != 5)
		err(x, n, "mqtt: max_packet_kb is announced only under MQTT 5 (version: 5); under "
			  "3.1.1 set message_size_limit on the broker (docs/security.md)");
}
