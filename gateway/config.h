/* config.h - the firegw YAML configuration (SPEC §9) as plain structs.
 * config_load() parses with libyaml, keeps line:col of every key, checks
 * everything, loads the profiles the devices name and resolves each
 * device's alarm points (profile defaults + device + point overrides).
 * Every key, type, default and range: docs/config.md. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect.h"
#include "errlist.h"
#include "profile.h"

#define CONFIG_DEFAULT_PATH "/etc/firegw/firegw.yaml"
#define CONFIG_ID_MAX 64
#define CONFIG_MAX_BUSES 32
#define CONFIG_MAX_DEVICES 1024
#define CONFIG_FILE_MAX (4 * 1024 * 1024) /* larger files are refused (= YTREE_MAX_FILE) */
#define CONFIG_MQTT_URIS_MAX 8 /* broker nodes in mqtt.uri */

struct cfg_site {
	char id[CONFIG_ID_MAX];
	char facility_id[64];
	char name[160];
	char address[256];
	char timezone[64];      /* IANA name, default Asia/Ho_Chi_Minh: what people read */
};

struct cfg_mqtt {
	char uri[256];          /* default tcp://127.0.0.1:1883; the first of uris */
	/* mqtt.uri as a list: a cluster's nodes (or load balancers), tried one
	 * per connect attempt in turn; one entry when uri is a string */
	char uris[CONFIG_MQTT_URIS_MAX][256];
	size_t n_uris;          /* 1..CONFIG_MQTT_URIS_MAX */
	int connect_timeout_s;  /* 5; 1..600: one connect attempt, TCP to CONNACK */
	int version;            /* 3 (meaning 3.1.1, the default) or 5 */
	char client_id[128];    /* default firegw-<site.id> */
	char topic_prefix[128]; /* default "firegw" */
	int keepalive_s;        /* 20; 2..3600 */
	int heartbeat_s;        /* 30; 5..3600 */
	int telemetry_s;        /* 60; 0 (off) or 1..86400 */
	int telemetry_qos;      /* 0; 0..1 */
	int inflight;           /* 16; 1..1024 */
	int ack_stall_s;        /* 15; 1..600 */
	int reconnect_max_s;    /* 10; 1..3600 */
	int ack_timeout_s;      /* 0 (center does not ack); 0..86400 */
	int periodic_test_h;    /* 24; 6..168: the periodic test report (1602 / 1608) */
	char ca_file[256], cert_file[256], key_file[256]; /* "" when unset */
	char username[128];
	char password_file[256];
};

struct cfg_storage {
	char path[256];   /* default /var/lib/firegw/firegw.db */
	int readings_days; /* 30; 1..3650 */
	int records_days;  /* 1096; 365..36500 */
	int max_mb;        /* 512; 8..1048576 */
};

enum bus_kind { BUS_INVALID = -1, BUS_RTU, BUS_TCP, BUS_MAX };

struct cfg_bus {
	char id[CONFIG_ID_MAX];
	enum bus_kind kind;
	/* RTU */
	char device[256];
	int baud;       /* 9600 */
	char parity;    /* 'N', 'E', 'O' */
	int data_bits;  /* 8; 7..8 */
	int stop_bits;  /* 1; 1..2 */
	/* TCP */
	char host[256];
	int port;       /* 502 */
	int timeout_ms;      /* 500; 10..60000 */
	int byte_timeout_ms; /* 50; 0..10000 (0: libmodbus default off) */
	int retries;         /* 1; 0..10 */
	int inter_frame_ms;  /* 5 for RTU, 0 for TCP; 0..1000 */
	int line, col;
};

/* One alarm point of a device after merging profile and config. */
struct cfg_point {
	char name[32];
	int profile_point;          /* index into device profile's points */
	enum point_kind kind;       /* PKIND_SMOKE/HEAT/FIRE/TEMPERATURE; an input
				       channel resolves to PKIND_FIRE when as=fire/prealarm */
	enum flag_kind as;          /* input channels: meaning; FLAG_INVALID otherwise */
	bool enabled;               /* false: channel "as: unused" - not a point at all */
	struct flag_src flags[FLAG_MAX]; /* effective flag sources (input channel mapped to flags[as]) */
	int value;                  /* analog value index, -1 none */
	struct detect_rules rules;  /* effective rules */
	enum en54_class en54;
	char zone[CONFIG_ID_MAX];
	int zone_no;                /* 1..999, 0 when unset */
	char location[160];
	int line, col;              /* where it was configured (device's position if not) */
};

struct cfg_device {
	char id[CONFIG_ID_MAX];
	int bus;          /* index into config.buses */
	int unit;         /* 1..247 */
	char profile_name[PROFILE_NAME_MAX];
	const struct profile *profile; /* owned by config.profiles */
	char zone[CONFIG_ID_MAX];
	int zone_no;
	char location[160];
	int poll_ms;      /* 1000; 100..3600000 */
	int fault_after;  /* 3; 1..100 */
	int dead_retry_s; /* 10; 1..3600 */
	int timeout_ms;   /* bus value unless set */
	int retries;      /* bus value unless set */
	struct cfg_point *points; /* n_points alarm points, owned by the config */
	size_t n_points;
	int line, col;
};

struct cfg_compliance {
	int system_test_days, maintenance_days, self_inspection_days,
	    police_inspection_days, device_test_days, max_fault_days, due_soon_days;
};

struct cfg_remote {
	bool allow_reset, allow_test, allow_record;
};

struct config {
	char path[256];
	char sha256[65]; /* of the file's bytes, hex */
	struct cfg_site site;
	char *profile_dirs[16];
	size_t n_profile_dirs;
	struct cfg_mqtt mqtt;
	struct cfg_storage storage;
	struct cfg_bus buses[CONFIG_MAX_BUSES];
	size_t n_buses;
	struct cfg_device *devices; /* n_devices entries */
	size_t n_devices;
	struct profile *profiles[CONFIG_MAX_DEVICES]; /* distinct loaded profiles */
	size_t n_profiles;
	struct cfg_compliance compliance;
	struct cfg_remote remote;
	char runtime_dir[256]; /* control socket dir: $RUNTIME_DIRECTORY or /run/firegw */
};

/* Parses and checks path. Profiles are searched in profile_dirs, then in
 * builtin_profile_dir (sensors/ of the tree or /usr/share/firegw/sensors).
 * Every error and warning is added to errs. Returns 0 (warnings possible),
 * -EINVAL (errs has at least one error), -ENOENT/-EACCES (file unreadable,
 * also in errs), -ENOMEM. *ret is set only on 0. */
int config_load(const char *path, const char *builtin_profile_dir,
		struct errlist *errs, struct config **ret);
void config_free(struct config *c);
int config_bus_index(const struct config *c, const char *id);    /* -1 */
int config_device_index(const struct config *c, const char *id); /* -1 */
/* Default directory of shipped profiles: $FIREGW_SENSORS_DIR, else the
 * sensors/ folder next to the running binary's source tree if it exists,
 * else /usr/share/firegw/sensors. */
const char *config_builtin_profile_dir(void);
/* What `firegw check` prints on success (added with config.c): site,
 * broker, each bus with its devices (unit, id, profile, alarm point count)
 * and the total number of alarm points. */
#include <stdio.h>
void config_print_summary(const struct config *c, FILE *f);
