/* gateway.h - the daemon: `firegw run`. Owns the configuration, the
 * database, the MQTT uplink, the bus threads and the control socket, and
 * runs the main loop that ties them together. */
#pragma once

#define FIREGW_VERSION "1.0.0"

#define GATEWAY_RELOAD 3 /* SIGHUP with a valid new configuration: exec again */

/* Runs until SIGTERM/SIGINT (or SIGHUP with a changed, valid
 * configuration). Returns the process exit status: 0 after a clean stop,
 * 1 when the configuration is invalid, 2 when start-up failed,
 * GATEWAY_RELOAD when the caller should exec the daemon again. */
int gateway_run(const char *config_path);
