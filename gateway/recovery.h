/* recovery.h - start-up after a stop of any kind (SPEC §5): open the
 * database (a corrupt one moved aside, a new epoch), check it after an
 * unclean stop, restore the points' states, load the outbox. Main loop,
 * start-up only. */
#pragma once
#include <stddef.h>

#include "config.h"
#include "outbox.h"
#include "site.h"
#include "store.h"

/* Opens (creating) the database. A corrupt file is moved aside and a new
 * one made: note then says so (for the storage fault), else it is "".
 * 0 or -errno (logged). */
int recovery_open(const struct config *c, store **ret, char *note, size_t len);
/* Restores each point's stored state; removed(ud, dev) for each device no
 * longer configured; a row for every point that had none. 0 or -errno. */
int recovery_restore(store *st, struct site *s, void (*removed)(void *ud, const char *dev),
		     void *ud);
/* Every waiting event row into the scheduler. 0, -ENOMEM, -errno. */
int recovery_load_outbox(store *st, outbox *ob);
/* After an unclean stop: the integrity check; a corrupt database is moved
 * aside and replaced (*st changes) with the events it still had to send
 * copied over byte for byte, the scheduler reloaded, and note says what
 * happened. 0 (intact or checked), 1 (replaced), -errno. */
int recovery_after_unclean(const struct config *c, store **st, outbox *ob, char *note,
			   size_t len);
