/* store_chain.c - tamper evidence (part of the store module, store.h): the
 * hash chain over the stored events. Each event row carries
 * hash = SHA-256(previous hash || seq as 8 bytes big-endian || payload
 * bytes); the first link's previous hash is the epoch's genesis: 32 zero
 * bytes, or, when this database replaced a corrupt one, SHA-256 of
 * "firegw.chain.v1" || old epoch || old head seq || old head hash, so the
 * new chain names where the old one ended. Nothing stored is rewritten
 * (acknowledgements and corrections are new links); pruning removes a prefix
 * of the chain and keeps the link before the oldest kept event in the chain
 * row, so what is left still verifies. An edited row breaks its own link;
 * a database recomputed from the edit on no longer contains a head the
 * command center kept (the retained compliance message), which `firegw
 * verify --head SEQ:HASH` checks. Main loop (commit, prune) or CLI (verify)
 * on its own handle. */
#include "store.h"
#include "store_int.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "util.h"

void store_chain_link(const uint8_t prev[STORE_HASH_LEN], uint64_t seq, const void *payload,
		      size_t len, uint8_t out[STORE_HASH_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t be[8];
	unsigned int n = 0;
	int i;

	for (i = 0; i < 8; i++)
		be[i] = (uint8_t)(seq >> (56 - 8 * i));
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(ctx, prev, STORE_HASH_LEN) || !EVP_DigestUpdate(ctx, be, sizeof(be)) ||
	    !EVP_DigestUpdate(ctx, payload, len) || !EVP_DigestFinal_ex(ctx, out, &n) ||
	    n != STORE_HASH_LEN) {
		/* OpenSSL out of memory: a link that can never verify, so the
		 * failure shows in `firegw verify` instead of passing unseen */
		memset(out, 0xff, STORE_HASH_LEN);
	}
	EVP_MD_CTX_free(ctx);
}

char *store_hash_hex(const uint8_t h[STORE_HASH_LEN], char buf[2 * STORE_HASH_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < STORE_HASH_LEN; i++) {
		buf[2 * i] = digits[h[i] >> 4];
		buf[2 * i + 1] = digits[h[i] & 15];
	}
	buf[2 * STORE_HASH_LEN] = '\0';
	return buf;
}

int store_hash_parse(const char *hex, uint8_t ret[STORE_HASH_LEN])
{
	int i, hi, lo;

	if (!hex || strlen(hex) != 2 * STORE_HASH_LEN)
		return -EINVAL;
	for (i = 0; i < STORE_HASH_LEN; i++) {
		hi = (unsigned char)hex[2 * i];
		lo = (unsigned char)hex[2 * i + 1];
		hi = hi >= '0' && hi <= '9' ? hi - '0' : hi >= 'a' && hi <= 'f' ? hi - 'a' + 10 : -1;
		lo = lo >= '0' && lo <= '9' ? lo - '0' : lo >= 'a' && lo <= 'f' ? lo - 'a' + 10 : -1;
		if (hi < 0 || lo < 0)
			return -EINVAL;
		ret[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* The chain row: genesis and the pruned link. 0, -ENOENT (no row), -errno. */
static int chain_row(store *s, uint8_t genesis[STORE_HASH_LEN], uint64_t *ret_pruned_seq,
		     uint8_t pruned[STORE_HASH_LEN])
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	r = store_prepare_once(s, "SELECT genesis, pruned_seq, pruned_hash FROM chain WHERE id = 1",
			       &st, "reading the chain");
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == STORE_HASH_LEN &&
	    sqlite3_column_bytes(st, 2) == STORE_HASH_LEN) {
		memcpy(genesis, sqlite3_column_blob(st, 0), STORE_HASH_LEN);
		*ret_pruned_seq = (uint64_t)sqlite3_column_int64(st, 1);
		memcpy(pruned, sqlite3_column_blob(st, 2), STORE_HASH_LEN);
		r = 0;
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = store_fail(s, rc, "reading the chain");
	}
	sqlite3_finalize(st);
	return r;
}

int store_chain_migrate(store *s)
{
	static const uint8_t zero[STORE_HASH_LEN];
	uint8_t head[STORE_HASH_LEN];
	sqlite3_stmt *sel = NULL, *upd = NULL;
	uint64_t n = 0;
	int rc, r;

	r = store_prepare_once(s, "INSERT INTO chain(id, genesis, pruned_seq, pruned_hash) "
				  "VALUES(1, ?1, 0, ?1)", &upd, "creating the chain");
	if (r < 0)
		return r;
	sqlite3_bind_blob(upd, 1, zero, sizeof(zero), SQLITE_STATIC);
	r = store_step_done(s, upd, "creating the chain");
	sqlite3_finalize(upd);
	upd = NULL;
	if (r < 0)
		return r;
	/* events stored before the chain existed become its first links, once */
	memcpy(head, zero, sizeof(head));
	r = store_prepare_once(s, "SELECT seq, payload FROM events ORDER BY seq", &sel,
			       "chaining the stored events");
	if (r == 0)
		r = store_prepare_once(s, "UPDATE events SET hash = ?1 WHERE seq = ?2", &upd,
				       "chaining the stored events");
	while (r == 0 && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
		uint64_t seq = (uint64_t)sqlite3_column_int64(sel, 0);

		store_chain_link(head, seq, sqlite3_column_blob(sel, 1),
				 (size_t)sqlite3_column_bytes(sel, 1), head);
		sqlite3_bind_blob(upd, 1, head, sizeof(head), SQLITE_STATIC);
		sqlite3_bind_int64(upd, 2, (int64_t)seq);
		r = store_step_done(s, upd, "chaining the stored events");
		n++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_fail(s, rc, "chaining the stored events");
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	if (r == 0 && n)
		log_notice("storage '%s': %llu stored events chained for tamper evidence", s->path,
			   (unsigned long long)n);
	return r;
}

int store_chain_load(store *s)
{
	uint8_t genesis[STORE_HASH_LEN], pruned[STORE_HASH_LEN];
	sqlite3_stmt *st = NULL;
	uint64_t pruned_seq = 0;
	int64_t v;
	int rc, r;

	r = store_query_int(s, "PRAGMA user_version", &v);
	if (r < 0)
		return r;
	s->schema = (int)v;
	if (s->schema < 3)
		return 0; /* read-only open of an older file: no chain to show */
	r = chain_row(s, genesis, &pruned_seq, pruned);
	if (r == -ENOENT) {
		log_error("storage '%s': the chain row is missing: %s", s->path,
			  store_advice(-EBADMSG));
		return -EBADMSG;
	}
	if (r < 0)
		return r;
	memcpy(s->head, pruned_seq ? pruned : genesis, STORE_HASH_LEN);
	s->head_seq = pruned_seq;
	r = store_prepare_once(s, "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1", &st,
			       "reading the chain head");
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 1) == STORE_HASH_LEN) {
		s->head_seq = (uint64_t)sqlite3_column_int64(st, 0);
		memcpy(s->head, sqlite3_column_blob(st, 1), STORE_HASH_LEN);
	} else if (rc == SQLITE_ROW) {
		r = -EBADMSG; /* the newest event has no link: written by hand */
		log_error("storage '%s': event %lld has no chain link: %s", s->path,
			  (long long)sqlite3_column_int64(st, 0), store_advice(-EBADMSG));
	} else if (rc != SQLITE_DONE) {
		r = store_fail(s, rc, "reading the chain head");
	}
	sqlite3_finalize(st);
	return r;
}

int store_chain_head(store *s, struct store_chain_head *ret)
{
	int r;

	if (!s || !ret)
		return -EINVAL;
	if (s->schema < 3)
		return -EPROTO;
	/* a reader's head moves with the writer's commits: read it now */
	if (s->readonly) {
		r = store_chain_load(s);
		if (r < 0)
			return r;
	}
	ret->seq = s->head_seq;
	memcpy(ret->hash, s->head, STORE_HASH_LEN);
	return 0;
}

int store_chain_set_origin(store *s, const char *old_epoch, const struct store_chain_head *old)
{
	static const char tag[] = "firegw.chain.v1";
	uint8_t genesis[STORE_HASH_LEN], be[8];
	sqlite3_stmt *st = NULL;
	char buf[sizeof(tag) + 8 + 8 + STORE_HASH_LEN];
	size_t off = 0;
	unsigned int n = 0;
	int i, r;

	if (!s || !old_epoch || strlen(old_epoch) != 8 || !old)
		return -EINVAL;
	if (s->readonly)
		return -EROFS;
	if (s->last_seq || s->head_seq)
		return -EEXIST;
	for (i = 0; i < 8; i++)
		be[i] = (uint8_t)(old->seq >> (56 - 8 * i));
	memcpy(buf + off, tag, sizeof(tag) - 1), off += sizeof(tag) - 1;
	memcpy(buf + off, old_epoch, 8), off += 8;
	memcpy(buf + off, be, 8), off += 8;
	memcpy(buf + off, old->hash, STORE_HASH_LEN), off += STORE_HASH_LEN;
	if (!EVP_Digest(buf, off, genesis, &n, EVP_sha256(), NULL) || n != STORE_HASH_LEN)
		return -ENOMEM;
	r = store_prepare_once(s, "UPDATE chain SET genesis = ?1, pruned_hash = ?1, prev_epoch = ?2, "
				  "prev_seq = ?3, prev_hash = ?4 WHERE id = 1 AND pruned_seq = 0",
			       &st, "starting the chain");
	if (r < 0)
		return r;
	r = store_set_sync(s, true);
	if (r == 0) {
		sqlite3_bind_blob(st, 1, genesis, sizeof(genesis), SQLITE_STATIC);
		sqlite3_bind_text(st, 2, old_epoch, 8, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (int64_t)old->seq);
		sqlite3_bind_blob(st, 4, old->hash, STORE_HASH_LEN, SQLITE_STATIC);
		r = store_step_done(s, st, "starting the chain");
	}
	sqlite3_finalize(st);
	if (r == 0)
		memcpy(s->head, genesis, sizeof(genesis));
	return r;
}

/* The columns readers use (compliance, reports, history filters, pruning)
 * must say what the hashed payload says: an edited column is as much a
 * broken link as an edited payload. NULL when they agree, else the name of
 * the first that differs. */
static const char *columns_differ(sqlite3_stmt *st)
{
	static const char *const names[] = { "event_id", "class", "type", "state", "device",
					     "point", "ref" };
	json_t *o = json_loadb(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1), 0,
			       NULL);
	const char *bad = NULL, *ts;
	char tsbuf[UTIL_TS_LEN];
	size_t i;

	if (!json_is_object(o)) {
		json_decref(o);
		return "payload";
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]) && !bad; i++) {
		const unsigned char *col = sqlite3_column_text(st, 3 + (int)i);
		const char *want = json_string_value(json_object_get(o, names[i]));

		/* "point" and "ref" may be absent from both */
		if (!col && !want)
			continue;
		if (!col || !want || strcmp((const char *)col, want) != 0)
			bad = names[i];
	}
	ts = json_string_value(json_object_get(o, "ts"));
	if (!bad && (!ts || strcmp(util_rfc3339(sqlite3_column_int64(st, 10), tsbuf), ts) != 0))
		bad = "ts_ms";
	json_decref(o);
	return bad;
}

int store_chain_verify(store *s, const struct store_chain_head *claim, struct store_verify *ret)
{
	uint8_t genesis[STORE_HASH_LEN], pruned[STORE_HASH_LEN], head[STORE_HASH_LEN], link[32];
	char a[2 * STORE_HASH_LEN + 1];
	sqlite3_stmt *st = NULL;
	uint64_t pruned_seq = 0, prev_seq;
	const char *col;
	int rc, r;

	if (!s || !ret)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	if (s->schema < 3)
		return -EPROTO;
	r = chain_row(s, genesis, &pruned_seq, pruned);
	if (r < 0)
		return r == -ENOENT ? -EBADMSG : r;
	memcpy(head, pruned_seq ? pruned : genesis, sizeof(head));
	prev_seq = pruned_seq;
	if (claim && claim->seq <= pruned_seq) {
		/* only the last pruned link is kept */
		ret->head_checked = claim->seq == pruned_seq;
		ret->head_ok = ret->head_checked && memcmp(claim->hash, head, sizeof(head)) == 0;
	}
	r = store_prepare_once(s, "SELECT seq, payload, hash, event_id, class, type, state, device, "
				  "point, ref, ts_ms FROM events ORDER BY seq", &st,
			       "verifying the chain");
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
		const void *stored = sqlite3_column_blob(st, 2);

		if (!ret->first_seq)
			ret->first_seq = seq;
		store_chain_link(head, seq, sqlite3_column_blob(st, 1),
				 (size_t)sqlite3_column_bytes(st, 1), link);
		if (seq <= prev_seq) {
			snprintf(ret->why, sizeof(ret->why),
				 "event %llu is not above the pruned link %llu",
				 (unsigned long long)seq, (unsigned long long)prev_seq);
		} else if (sqlite3_column_bytes(st, 2) != STORE_HASH_LEN) {
			snprintf(ret->why, sizeof(ret->why), "event %llu has no chain link",
				 (unsigned long long)seq);
		} else if (memcmp(stored, link, sizeof(link)) != 0) {
			snprintf(ret->why, sizeof(ret->why),
				 "event %llu does not match its link: its bytes, its seq or an "
				 "earlier event were changed (expected %s)",
				 (unsigned long long)seq, store_hash_hex(link, a));
		} else if ((col = columns_differ(st)) != NULL) {
			snprintf(ret->why, sizeof(ret->why),
				 "event %llu: its column %s differs from its hashed payload: the row "
				 "was edited",
				 (unsigned long long)seq, col);
		}
		if (ret->why[0]) {
			ret->bad_seq = seq;
			break;
		}
		memcpy(head, link, sizeof(head));
		prev_seq = seq;
		ret->checked++;
		if (claim && claim->seq == seq) {
			ret->head_checked = true;
			ret->head_ok = memcmp(claim->hash, link, sizeof(link)) == 0;
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = store_fail(s, rc, "verifying the chain");
	sqlite3_finalize(st);
	ret->head.seq = prev_seq;
	memcpy(ret->head.hash, head, sizeof(head));
	return r;
}
