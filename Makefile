# firegw - fire-safety IoT gateway. One Makefile for the daemon, the field
# simulator, the tests and the demo. `make help` lists the targets.

CC      ?= cc
PKGS    := libmodbus jansson yaml-0.1 sqlite3 libsystemd libcrypto
DEB_PKGS := build-essential pkg-config libpaho-mqtt-dev libmodbus-dev libsqlite3-dev \
	    libyaml-dev libcmocka-dev libjansson-dev libsystemd-dev mosquitto \
	    mosquitto-clients socat sqlite3 python3 libssl-dev valgrind mbpoll \
	    tzdata chromium fonts-dejavu-core poppler-utils rabbitmq-server iproute2
CFLAGS  ?= -O2 -g
WARN    := -std=c11 -Wall -Wextra -Wshadow -Wformat=2 -Wconversion
ifeq ($(CI),true)
WARN    += -Werror
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CPPFLAGS += -D_GNU_SOURCE -Igateway $(PKG_CFLAGS) -MMD -MP
LDLIBS  += $(PKG_LIBS) -lpaho-mqtt3as -lpthread -lm
B       := build

# The daemon, one module per file (STYLE.md): reading this list shows the
# whole system.
GATEWAY_MODULES := util log errlist queue marks \
	ytree yval yrules config profile_load profile detect point compliance \
	store store_history store_maint store_chain store_compliance compliance_data sitetime \
	report report_html publish poller \
	outbox event site payload journal intake uplink health modes request recovery \
	inspector instance gateway control cli cli_watch cli_daemon cli_bus cli_record cli_inspect
GATEWAY_SRCS := $(filter $(patsubst %,gateway/%.c,$(GATEWAY_MODULES)),$(wildcard gateway/*.c))
GATEWAY_OBJS := $(patsubst %.c,$(B)/%.o,$(GATEWAY_SRCS))
LIB     := $(B)/libfiregw.a

SIM_SRCS := $(wildcard sensors/sim/*.c)
SIM_OBJS := $(patsubst %.c,$(B)/%.o,$(SIM_SRCS))

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_TESTS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
TESTLIB_SRCS := $(wildcard tests/lib/*.c)

BINS := $(B)/firegw $(B)/firegw-sim
# test tools: a backlog maker and a wall-clock shifter for the fault tests
TOOLS := $(B)/mkbacklog $(B)/clockshift.so $(B)/mkyear

.PHONY: all deps run test unit unit-bins sanitize bench clean lint format help install
all: $(BINS) $(TOOLS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -c $< -o $@

$(LIB): $(GATEWAY_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/firegw: $(B)/gateway/main.o $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/firegw-sim: $(SIM_OBJS) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/mkbacklog: tests/fault/mkbacklog.c $(LIB)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# a year of a premises, for the inspectors' commands' tests and the bench
$(B)/mkyear: tests/bench/mkyear.c $(LIB)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(B)/clockshift.so: tests/fault/clockshift.c
	@mkdir -p $(dir $@)
	$(CC) -D_GNU_SOURCE $(WARN) $(CFLAGS) -shared -fPIC -o $@ $< -ldl

$(B)/tests/test_%: tests/unit/test_%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) -Wno-conversion $(CFLAGS) -o $@ $< $(TESTLIB_SRCS) $(LIB) $(LDLIBS) -lcmocka

# deps: install what is missing (as root), else print the one line to run.
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all packages present"; \
	elif [ "$$(id -u)" = 0 ]; then echo "deps: installing $$missing"; \
		(apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "deps: missing packages; run as root:"; echo "  apt-get install -y $$missing"; exit 1; fi

unit-bins: $(UNIT_TESTS)

unit: $(UNIT_TESTS)
	@fail=0; for t in $(UNIT_TESTS); do echo "== $$t"; $$t || fail=1; done; exit $$fail

test: deps
	$(MAKE) all unit-bins
	tests/run-all.sh

# The same tests with AddressSanitizer + UndefinedBehaviorSanitizer: any
# leak, overflow or UB report fails the test that caused it.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
sanitize: deps
	$(MAKE) B=build-san CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" all unit-bins
	FIREGW_BUILD=build-san FIREGW_SANITIZE=1 \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:verify_asan_link_order=0 \
		UBSAN_OPTIONS=print_stacktrace=1 tests/run-all.sh

run: deps
	$(MAKE) all
	tests/demo/run-demo.sh

# The clustered-broker scenarios (tests/cluster, docs/scaling.md §4): three
# RabbitMQ nodes in network namespaces the test creates and removes. Needs
# root; each scenario in its own process, 15 minutes at most in all.
# `make test` runs the short one (tests/integration/test_cluster_short.py).
.PHONY: cluster-test
cluster-test: deps
	$(MAKE) all
	FIREGW_BUILD=$(B) tests/cluster/run-cluster.sh

bench: deps
	$(MAKE) all
	tests/bench/run-bench.sh

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance --std=c11 -D_GNU_SOURCE gateway sensors/sim

format:
	clang-format -i gateway/*.[ch] sensors/sim/*.[ch] tests/unit/*.c

install: all
	install -D -m 0755 $(B)/firegw $(DESTDIR)/usr/bin/firegw
	install -D -m 0755 $(B)/firegw-sim $(DESTDIR)/usr/bin/firegw-sim
	install -d $(DESTDIR)/usr/share/firegw/sensors
	install -m 0644 sensors/*.yaml $(DESTDIR)/usr/share/firegw/sensors/
	install -D -m 0644 systemd/firegw.service $(DESTDIR)/lib/systemd/system/firegw.service
	install -D -m 0640 config/example.yaml $(DESTDIR)/etc/firegw/firegw.yaml

clean:
	rm -rf build build-san

help:
	@echo "make run       demo: private mosquitto + simulator + gateway, scenario shown live"
	@echo "make test      every test (unit, integration, fault), installing what is missing"
	@echo "make sanitize  the tests under ASan+UBSan"
	@echo "make bench     the SPEC §8 figures"
	@echo "make cluster-test  firegw on a 3-node RabbitMQ cluster: node kill, partition, restarts (root)"
	@echo "make deps      install the Debian packages firegw needs"

-include $(shell find $(B) -name '*.d' 2>/dev/null)
