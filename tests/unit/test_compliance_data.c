/* test_compliance_data.c - unit tests of gateway/compliance_data.c over a
 * synthetic year in a real SQLite file (yeardb.h): each obligation's status
 * at chosen dates (a point never tested, a fault open nine days, a
 * maintenance missed, a self-inspection every month but one, a police
 * inspection recorded and corrected, a disablement repeated daily, an
 * uplink outage); the index-seek path and the walk of an older database
 * give the same input; the published JSON; the compliance history. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "compliance_data.h"
#include "yeardb.h"

static int setup(void **state)
{
	*state = yd_build();
	return 0;
}

static int teardown(void **state)
{
	yd_free(*state);
	return 0;
}

/* The status of one item at a moment, from the stored history. */
static enum comp_status status_at(struct yeardb *y, enum comp_item item, int64_t at,
				  struct comp_item_result *ret)
{
	struct comp_gathered *g = NULL;
	struct comp_result res;
	store *s = yd_open_ro(y);

	assert_int_equal(compliance_gather(s, &y->cfg, at, 0, &g), 0);
	assert_int_equal(compliance_evaluate(&g->in, &res), 0);
	if (ret)
		*ret = res.items[item];
	compliance_gathered_free(g);
	store_free(s);
	return res.items[item].status;
}

static void test_gather_bad_input(void **state)
{
	struct yeardb *y = *state;
	struct comp_gathered *g = NULL;
	store *s = yd_open_ro(y);

	assert_int_equal(compliance_gather(NULL, &y->cfg, 0, 0, &g), -EINVAL);
	assert_int_equal(compliance_gather(s, NULL, 0, 0, &g), -EINVAL);
	assert_int_equal(compliance_gather(s, &y->cfg, 0, 0, NULL), -EINVAL);
	compliance_gathered_free(NULL);
	store_free(s);
}

static void test_point_never_tested(void **state)
{
	struct yeardb *y = *state;
	struct comp_item_result it;

	assert_int_equal(status_at(y, COMP_DEVICE_TEST, yd_at(6, 1, 12, 0), NULL), COMP_OK);
	/* smoke-a2 was not tested (1612): due a year after monitoring began */
	assert_int_equal(status_at(y, COMP_DEVICE_TEST, yd_at(12, 20, 12, 0), &it), COMP_DUE_SOON);
	assert_non_null(strstr(it.reason, "smoke-a2.fire"));
	assert_int_equal(status_at(y, COMP_DEVICE_TEST, yd_at(12, 31, 12, 0) + 2 * 86400000LL, &it),
			 COMP_OVERDUE);
	assert_int_equal(it.count, 1);
}

static void test_fault_open_nine_days(void **state)
{
	struct yeardb *y = *state;
	struct comp_item_result it;

	assert_int_equal(status_at(y, COMP_FAULTS, yd_at(3, 31, 12, 0), NULL), COMP_OK);
	assert_int_equal(status_at(y, COMP_FAULTS, yd_at(4, 5, 12, 0), &it), COMP_DUE_SOON);
	assert_int_equal(it.count, 1);
	assert_non_null(strstr(it.reason, "'smoke-a1.fire:comm_loss' since 2026-04-01"));
	assert_int_equal(status_at(y, COMP_FAULTS, yd_at(4, 9, 12, 0), NULL), COMP_NON_COMPLIANT);
	assert_int_equal(status_at(y, COMP_FAULTS, yd_at(4, 10, 9, 0), NULL), COMP_OK);
}

static void test_maintenance_missed(void **state)
{
	struct yeardb *y = *state;
	struct comp_item_result it;

	/* before it was entered: nothing recorded, counted from monitoring */
	assert_int_equal(status_at(y, COMP_MAINTENANCE, yd_at(1, 4, 12, 0), &it), COMP_OK);
	assert_int_equal(it.last_ms, 0);
	/* the paper logbook's date counts once entered */
	assert_int_equal(status_at(y, COMP_MAINTENANCE, yd_at(5, 25, 12, 0), &it), COMP_DUE_SOON);
	assert_int_equal(status_at(y, COMP_MAINTENANCE, yd_at(6, 2, 12, 0), &it), COMP_OVERDUE);
	assert_non_null(strstr(it.reason, "2024-06-01"));
}

static void test_self_inspection_all_months_but_may(void **state)
{
	struct yeardb *y = *state;

	assert_int_equal(status_at(y, COMP_SELF_INSPECTION, yd_at(4, 20, 12, 0), NULL), COMP_OK);
	assert_int_equal(status_at(y, COMP_SELF_INSPECTION, yd_at(5, 5, 12, 0), NULL),
			 COMP_DUE_SOON);
	assert_int_equal(status_at(y, COMP_SELF_INSPECTION, yd_at(5, 12, 12, 0), NULL),
			 COMP_OVERDUE);
	assert_int_equal(status_at(y, COMP_SELF_INSPECTION, yd_at(6, 9, 12, 0), NULL),
			 COMP_OVERDUE);
	assert_int_equal(status_at(y, COMP_SELF_INSPECTION, yd_at(6, 11, 12, 0), NULL), COMP_OK);
}

static void test_police_inspection_corrected(void **state)
{
	struct yeardb *y = *state;
	struct comp_item_result it;

	assert_int_equal(status_at(y, COMP_POLICE_INSPECTION, yd_at(3, 21, 12, 0), &it),
			 COMP_NON_COMPLIANT);
	assert_non_null(strstr(it.reason, "failed"));
	assert_int_equal(status_at(y, COMP_POLICE_INSPECTION, yd_at(3, 23, 12, 0), &it), COMP_OK);
	assert_int_equal(it.last_ms, yd_at(3, 20, 0, 0));
}

static void test_disablement_since_first_day(void **state)
{
	struct yeardb *y = *state;
	struct comp_item_result it;

	assert_int_equal(status_at(y, COMP_DISABLEMENTS, yd_at(9, 3, 12, 0), &it), COMP_DUE_SOON);
	assert_int_equal(it.count, 1);
	/* daily repeats do not move its start */
	assert_int_equal(it.due_ms, yd_at(9, 1, 7, 0) + 7 * 86400000LL);
	assert_int_equal(status_at(y, COMP_DISABLEMENTS, yd_at(9, 10, 12, 0), NULL),
			 COMP_NON_COMPLIANT);
	assert_int_equal(status_at(y, COMP_DISABLEMENTS, yd_at(9, 12, 8, 0), NULL), COMP_OK);
}

static void test_uplink_outage(void **state)
{
	struct yeardb *y = *state;
	struct comp_item_result it;

	assert_int_equal(status_at(y, COMP_UPLINK, yd_at(5, 3, 2, 0), &it), COMP_NON_COMPLIANT);
	assert_int_equal(it.count, 3600); /* down for an hour so far */
	assert_int_equal(status_at(y, COMP_UPLINK, yd_at(5, 4, 0, 0), &it), COMP_OK);
	assert_int_equal(it.count, 7200);
}

static void test_overall_over_the_year(void **state)
{
	struct yeardb *y = *state;
	struct comp_gathered *g = NULL;
	struct comp_result res;
	store *s = yd_open_ro(y);

	assert_int_equal(compliance_gather(s, &y->cfg, yd_at(2, 20, 12, 0), 0, &g), 0);
	assert_int_equal(compliance_evaluate(&g->in, &res), 0);
	assert_int_equal(res.overall, COMP_COMPLIANT);
	compliance_gathered_free(g);
	assert_int_equal(compliance_gather(s, &y->cfg, yd_at(4, 9, 12, 0), 0, &g), 0);
	assert_int_equal(compliance_evaluate(&g->in, &res), 0);
	assert_int_equal(res.overall, COMP_OVERALL_NON_COMPLIANT);
	compliance_gathered_free(g);
	store_free(s);
}

/* An older database (no events_key, opened read-only) walks the faults:
 * the same input as the index seeks. */
static void test_index_and_walk_agree(void **state)
{
	struct yeardb *y = *state;
	static const int days[][2] = {{4, 5}, {4, 9}, {5, 3}, {9, 3}, {9, 10}, {12, 1}};
	struct comp_result a[6], b[6];
	struct comp_gathered *g;
	sqlite3 *db;
	store *s;
	size_t i;

	for (i = 0; i < 6; i++) {
		s = yd_open_ro(y);
		assert_int_equal(
		    compliance_gather(s, &y->cfg, yd_at(days[i][0], days[i][1], 2, 0), 0, &g), 0);
		assert_int_equal(compliance_evaluate(&g->in, &a[i]), 0);
		compliance_gathered_free(g);
		store_free(s);
	}
	assert_int_equal(sqlite3_open(y->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP INDEX events_key", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	s = yd_open_ro(y);
	assert_int_equal(store_open_runs_at(s, "fault", 0, NULL, NULL), -EINVAL);
	for (i = 0; i < 6; i++) {
		assert_int_equal(
		    compliance_gather(s, &y->cfg, yd_at(days[i][0], days[i][1], 2, 0), 0, &g), 0);
		assert_int_equal(compliance_evaluate(&g->in, &b[i]), 0);
		compliance_gathered_free(g);
		assert_memory_equal(&a[i], &b[i], sizeof(a[i]));
	}
	store_free(s);
}

static int one_row(void *ud, const struct store_compliance_row *row)
{
	int64_t *ts = ud;

	*ts = row->ts_ms;
	return 0;
}

static void test_published_json_and_history(void **state)
{
	struct yeardb *y = *state;
	struct store_opts o = {.path = y->path};
	struct comp_gathered *g = NULL;
	struct comp_result res;
	json_t *j;
	char *txt;
	int64_t ts = 0;
	store *s;

	assert_int_equal(store_open(&o, &s), 0);
	assert_int_equal(compliance_gather(s, &y->cfg, yd_at(4, 9, 12, 0), 0, &g), 0);
	assert_int_equal(compliance_evaluate(&g->in, &res), 0);
	j = compliance_to_json(&y->cfg, g, &res, true);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "schema")), COMPLIANCE_SCHEMA);
	assert_string_equal(json_string_value(json_object_get(j, "overall")), "non_compliant");
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(json_object_get(j, "items"), "faults"), "status")),
			    "non_compliant");
	assert_true(json_integer_value(json_object_get(json_object_get(j, "chain"), "seq")) > 0);
	txt = json_dumps(j, JSON_COMPACT);
	assert_int_equal(
	    store_compliance_append(s, yd_at(4, 9, 12, 0), "non_compliant", true, txt, strlen(txt)),
	    0);
	assert_int_equal(
	    store_compliance_append(s, yd_at(4, 11, 12, 0), "compliant", true, txt, strlen(txt)),
	    0);
	assert_int_equal(store_compliance_append(s, 0, NULL, true, txt, 1), -EINVAL);
	free(txt);
	json_decref(j);
	compliance_gathered_free(g);
	assert_int_equal(store_compliance_at(s, yd_at(4, 1, 0, 0), one_row, &ts), -ENOENT);
	assert_int_equal(store_compliance_at(s, yd_at(4, 10, 0, 0), one_row, &ts), 0);
	assert_int_equal(ts, yd_at(4, 9, 12, 0));
	assert_int_equal(store_compliance_at(s, yd_at(12, 1, 0, 0), one_row, &ts), 0);
	assert_int_equal(ts, yd_at(4, 11, 12, 0));
	store_free(s);
	/* a read-only handle cannot append */
	s = yd_open_ro(y);
	assert_int_equal(store_compliance_append(s, 1, "compliant", true, "{}", 2), -EROFS);
	store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_gather_bad_input, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_point_never_tested, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_open_nine_days, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_maintenance_missed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_self_inspection_all_months_but_may, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_police_inspection_corrected, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disablement_since_first_day, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_uplink_outage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overall_over_the_year, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_index_and_walk_agree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_published_json_and_history, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
