# firegw - fire-safety IoT gateway. One Makefile for the daemon, the field
# simulator, the tests and the demo. `make help` lists the targets.

CC      ?= cc
PKGS    := libmodbus jansson yaml-0.1 sqlite3 libsystemd libcrypto
DEB_PKGS := build-essential pkg-config libpaho-mqtt-dev libmodbus-dev libsqlite3-dev \
	    libyaml-dev libcmocka-dev libjansson-dev libsystemd-dev mosquitto \
	    mosquitto-clients socat sqlite3 python3 libssl-dev valgrind mbpoll \
	    tzdata chromium fonts-dejavu-core poppler-utils \
	    cppcheck clang-tidy groff-base man-db dpkg-dev \
	    clang libclang-rt-14-dev rabbitmq-server iproute2
# tests/integration/test_systemd.py: systemd-analyze and systemd-sysusers,
# strace for the system call filter's proof, openssl for its TLS run
DEB_PKGS += systemd strace openssl
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
	ytree yval yrules config config_mqtt profile_load profile detect point compliance \
	store store_history store_maint store_chain store_compliance readings compliance_data sitetime \
	report report_html secret publish poller \
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

.PHONY: all deps run test unit unit-bins sanitize bench clean lint format help install \
	uninstall deb deb-test man FORCE
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

# the fan-in bench's load generator: many simulated premises in one process
# (built by `make bench` only, not by `all`)
BENCH_TOOLS := $(B)/loadgen
$(B)/loadgen: tests/bench/loadgen.c $(LIB)
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
	$(MAKE) all unit-bins fuzz-bins
	FIREGW_FUZZ=1 tests/run-all.sh

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
	$(MAKE) all $(BENCH_TOOLS)
	tests/bench/run-bench.sh

format:
	clang-format -i gateway/*.[ch] sensors/sim/*.[ch] tests/unit/*.c

# ---- install, package, manual pages, lint ------------------------------
# The version is written once, in gateway/gateway.h (firegw --version, the
# status payload); the package takes it from there.
VERSION := $(shell sed -n 's/^\#define FIREGW_VERSION "\(.*\)"/\1/p' gateway/gateway.h)
PREFIX  ?= /usr
BINDIR  := $(PREFIX)/bin
DATADIR := $(PREFIX)/share/firegw
MANDIR  := $(PREFIX)/share/man
DOCDIR  := $(PREFIX)/share/doc/firegw
# Debian 12 packages put units in /lib; /usr/local/lib/systemd/system is
# searched too
UNITDIR := $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
CFGDIR  := /etc/firegw
SYSUSERSDIR := $(PREFIX)/lib/sysusers.d
DOCS    := README.md $(wildcard docs/*.md)
PROFILES := $(wildcard sensors/*.yaml)
MANS    := $(B)/firegw.8 $(B)/firegw.yaml.5

# An installed daemon finds the shipped profiles under $(PREFIX); a change of
# PREFIX rebuilds config.o (the stamp holds the last one).
CPPFLAGS += -DFIREGW_PROFILE_DIR='"$(DATADIR)/sensors"'
$(B)/gateway/config.o: $(B)/prefix.stamp
$(B)/prefix.stamp: FORCE
	@mkdir -p $(B); echo '$(PREFIX)' | cmp -s - $@ || echo '$(PREFIX)' > $@
FORCE:

# Manual pages, generated so that they cannot drift: firegw(8) from the
# binary's own --help texts, firegw.yaml(5) from docs/config.md.
man: $(MANS)
$(B)/firegw.8: docs/man/firegw.8.md docs/man/mkman.py $(B)/firegw
	python3 docs/man/mkman.py cmd8 $< $(B)/firegw $(VERSION) > $@.tmp && mv $@.tmp $@
$(B)/firegw.yaml.5: docs/config.md docs/man/mkman.py
	@mkdir -p $(B)
	python3 docs/man/mkman.py yaml5 $< $(VERSION) > $@.tmp && mv $@.tmp $@

# The config is installed once: an edited one is never overwritten. Its group
# is firegw when that group exists here; in a DESTDIR install (the package)
# the postinst sets it.
install: $(BINS) $(MANS)
	umask 022; \
	install -D -m 0755 $(B)/firegw $(DESTDIR)$(BINDIR)/firegw && \
	install -D -m 0755 $(B)/firegw-sim $(DESTDIR)$(BINDIR)/firegw-sim && \
	install -d $(DESTDIR)$(DATADIR)/sensors $(DESTDIR)$(DOCDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(CFGDIR) && \
	install -m 0644 $(PROFILES) $(DESTDIR)$(DATADIR)/sensors/ && \
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/ && \
	sed -e 's|/usr/bin/firegw|$(BINDIR)/firegw|g' -e 's|/usr/share/doc/firegw|$(DOCDIR)|g' \
		systemd/firegw.service > $(DESTDIR)$(UNITDIR)/firegw.service && \
	chmod 0644 $(DESTDIR)$(UNITDIR)/firegw.service && \
	install -D -m 0644 systemd/firegw.sysusers $(DESTDIR)$(SYSUSERSDIR)/firegw.conf && \
	gzip -9n -c $(B)/firegw.8 > $(DESTDIR)$(MANDIR)/man8/firegw.8.gz && \
	gzip -9n -c $(B)/firegw.yaml.5 > $(DESTDIR)$(MANDIR)/man5/firegw.yaml.5.gz && \
	chmod 0644 $(DESTDIR)$(MANDIR)/man8/firegw.8.gz $(DESTDIR)$(MANDIR)/man5/firegw.yaml.5.gz
	@cfg=$(DESTDIR)$(CFGDIR)/firegw.yaml; \
	if [ -e "$$cfg" ] && ! cmp -s config/example.yaml "$$cfg"; then \
		echo "install: $$cfg exists and was edited: kept as it is"; \
	else \
		install -m 0640 config/example.yaml "$$cfg" || exit 1; \
		if [ -z "$(DESTDIR)" ] && getent group firegw >/dev/null; then chgrp firegw "$$cfg"; fi; \
	fi
	@if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null; then \
		systemd-sysusers $(SYSUSERSDIR)/firegw.conf && \
		if getent group firegw >/dev/null; then chgrp firegw $(CFGDIR)/firegw.yaml; fi; \
	fi

# Removes what install put, except an edited config (it stays, and says so).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/firegw $(DESTDIR)$(BINDIR)/firegw-sim \
		$(DESTDIR)$(UNITDIR)/firegw.service $(DESTDIR)$(SYSUSERSDIR)/firegw.conf \
		$(DESTDIR)$(MANDIR)/man8/firegw.8.gz $(DESTDIR)$(MANDIR)/man5/firegw.yaml.5.gz \
		$(addprefix $(DESTDIR)$(DATADIR)/sensors/,$(notdir $(PROFILES))) \
		$(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOCS)))
	-rmdir $(DESTDIR)$(DATADIR)/sensors $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR) 2>/dev/null
	@cfg=$(DESTDIR)$(CFGDIR)/firegw.yaml; \
	if [ -e "$$cfg" ] && ! cmp -s config/example.yaml "$$cfg"; then \
		echo "uninstall: $$cfg was edited: left in place"; \
	else rm -f "$$cfg"; rmdir $(DESTDIR)$(CFGDIR) 2>/dev/null || true; fi

# The .deb: a staged `make install`, control files from systemd/deb/, the
# shared-library dependencies from dpkg-shlibdeps (it wants a debian/control,
# so one is written in the work directory), owners root:root.
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEB      := $(B)/firegw_$(VERSION)_$(DEB_ARCH).deb
DEB_WORK := $(B)/deb
DEB_ROOT := $(DEB_WORK)/debian/firegw
deb: $(DEB)
$(DEB): $(BINS) $(MANS) $(PROFILES) $(DOCS) config/example.yaml systemd/firegw.service \
		$(wildcard systemd/deb/*)
	rm -rf $(DEB_WORK)
	$(MAKE) --no-print-directory install PREFIX=/usr DESTDIR=$(abspath $(DEB_ROOT))
	strip --strip-unneeded $(DEB_ROOT)/usr/bin/firegw $(DEB_ROOT)/usr/bin/firegw-sim
	umask 022; mkdir -p $(DEB_ROOT)/DEBIAN && \
	for f in postinst prerm postrm; do install -m 0755 systemd/deb/$$f $(DEB_ROOT)/DEBIAN/; done && \
	install -m 0644 systemd/deb/conffiles $(DEB_ROOT)/DEBIAN/ && \
	printf 'Source: firegw\n\nPackage: firegw\nArchitecture: any\n' > $(DEB_WORK)/debian/control && \
	deps=$$(cd $(DEB_WORK) && dpkg-shlibdeps -O debian/firegw/usr/bin/firegw \
		debian/firegw/usr/bin/firegw-sim | sed -n 's/^shlibs:Depends=//p') && \
	[ -n "$$deps" ] && \
	size=$$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1) && \
	sed -e 's/@VERSION@/$(VERSION)/' -e 's/@ARCH@/$(DEB_ARCH)/' -e "s/@DEPENDS@/$$deps/" \
		-e "s/@SIZE@/$$size/" systemd/deb/control.in > $(DEB_ROOT)/DEBIAN/control && \
	(cd $(DEB_ROOT) && find . -type f ! -path './DEBIAN/*' -printf '%P\n' | LC_ALL=C sort | \
		xargs md5sum) > $(DEB_ROOT)/DEBIAN/md5sums
	dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) $@

# Installs the .deb with apt in a debootstrap chroot of Debian 12 (so its
# Depends are resolved), upgrades it over an edited config and removes it.
deb-test: $(DEB)
	tests/package/deb-test.sh $(DEB)

# Static analysis: cppcheck, then clang-tidy per file (make -j2 lint runs
# two at a time; a file is checked again when it or a header changed).
# The checks: bugprone-* and the clang static analyzer, plus the CERT rules
# on unchecked number conversions, character signedness, float loop counters
# and rand(), without those that only restate this code's conventions:
# swappable parameters, widening of int products, `!strcmp`, struct
# initialiser macros (macro-parentheses), repeated branches kept for
# reading, int-to-char narrowing (-Wconversion covers it), deliberate
# rounding division, a clarifying dead store, struct padding and Annex K
# "_s" functions.
TIDY_CHECKS := -*,bugprone-*,-bugprone-easily-swappable-parameters,$\
	-bugprone-implicit-widening-of-multiplication-result,-bugprone-suspicious-string-compare,$\
	-bugprone-macro-parentheses,-bugprone-branch-clone,-bugprone-narrowing-conversions,$\
	-bugprone-integer-division,$\
	clang-analyzer-*,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,$\
	-clang-analyzer-deadcode.DeadStores,-clang-analyzer-optin.performance.Padding,$\
	cert-err34-c,cert-str34-c,cert-flp30-c,cert-msc30-c,cert-msc32-c,misc-redundant-expression
TIDY_FLAGS  := -std=c11 $(filter-out -MMD -MP,$(CPPFLAGS))
LINT_SRCS   := $(wildcard gateway/*.c sensors/sim/*.c)
LINT_STAMPS := $(patsubst %.c,$(B)/lint/%.ok,$(LINT_SRCS))
lint: $(B)/lint/cppcheck.ok $(LINT_STAMPS)
$(B)/lint/cppcheck.ok: $(LINT_SRCS) $(wildcard gateway/*.h sensors/sim/*.h)
	@mkdir -p $(dir $@)
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance --std=c11 -D_GNU_SOURCE \
		gateway sensors/sim
	@touch $@
$(B)/lint/%.ok: %.c $(wildcard gateway/*.h sensors/sim/*.h)
	@mkdir -p $(dir $@)
	@echo "clang-tidy $<"
	@out=$$(clang-tidy --quiet --warnings-as-errors='*' --checks='$(TIDY_CHECKS)' $< -- \
		$(TIDY_FLAGS) 2>&1); rc=$$?; \
	printf '%s\n' "$$out" | grep -v '^[0-9]* warnings* \(and [0-9]* errors* \)\{0,1\}generated\.$$'; \
	[ $$rc = 0 ] && touch $@

clean:
	rm -rf build build-san build-fuzz

help:
	@echo "make run       demo: private mosquitto + simulator + gateway, scenario shown live"
	@echo "make test      every test (unit, integration, fault), installing what is missing"
	@echo "make sanitize  the tests under ASan+UBSan"
	@echo "make bench     the SPEC §8 figures"
	@echo "make deb       the Debian package build/firegw_VERSION_ARCH.deb (make deb-test: in a chroot)"
	@echo "make lint      cppcheck and clang-tidy"
	@echo "make cluster-test  firegw on a 3-node RabbitMQ cluster: node kill, partition, restarts (root)"
	@echo "make deps      install the Debian packages firegw needs"

# Fuzzing (libFuzzer, Debian's clang with libclang-rt-14-dev): the targets
# in tests/fuzz/, linked against the gateway compiled again with clang and
# ASan+UBSan into $(FUZZ_B). `make fuzz FUZZ_TIME=60` runs each target that
# many seconds; `make test` runs each for a few (tests/run-all.sh). Seeds
# are in tests/fuzz/corpus/<target>/; new inputs go to a scratch directory,
# crashes to $(FUZZ_B)/artifacts/.
FUZZ_B       := build-fuzz
FUZZ_TARGETS := config profile decode modbus request ack control
FUZZ_BINS    := $(patsubst %,$(FUZZ_B)/fuzz_%,$(FUZZ_TARGETS))
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_TIME    ?= 60
.PHONY: fuzz fuzz-bins FORCE
ifneq ($(B),$(FUZZ_B))
$(FUZZ_B)/libfiregw.a: FORCE
	@$(MAKE) --no-print-directory B=$(FUZZ_B) CC=clang CI= \
		CFLAGS="-O1 -g -fsanitize=fuzzer-no-link $(FUZZ_SAN)" $@
endif
$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_fixture.c tests/fuzz/fuzz_fixture.h $(FUZZ_B)/libfiregw.a
	clang -D_GNU_SOURCE -Igateway -Itests/fuzz $(PKG_CFLAGS) -O1 -g -fsanitize=fuzzer $(FUZZ_SAN) \
		-o $@ $< tests/fuzz/fuzz_fixture.c $(FUZZ_B)/libfiregw.a $(LDLIBS)
fuzz-bins: $(FUZZ_BINS)
fuzz: deps fuzz-bins
	tests/fuzz/run-fuzz.sh $(FUZZ_B) $(FUZZ_TIME) $(FUZZ_TARGETS)

-include $(shell find $(B) -name '*.d' -type f 2>/dev/null)
