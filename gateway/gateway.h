/* gateway.h - the daemon: `firegw run`. Owns the configuration, the
 * database, the MQTT uplink, the bus threads and the control socket, and
 * runs the main loop that ties them together. */
#pragma once

#define FIREGW_VERSION "1.0.0"

/* Runs until SIGTERM/SIGINT. Returns the process exit status: 0 after a
 * clean stop, 1 when the configuration is invalid, 2 when start-up failed. */
int gateway_run(const char *config_path);
