# Strata: one non-recursive Makefile.
#   make            build bin/strata-server (+ bin/keydb-server link)
#   make run        install missing deps, build, serve on 6379 with keydb.conf
#   make test       install missing deps, build, unit + integration tests (also under ASan)
#   make bench      side-by-side benchmark against redis-server
#   make asan       AddressSanitizer build in bin/strata-server-asan
#   make noopt      -O0 build for debugging
#   make lint-layers  check the layering rules of STYLE.md

CC ?= gcc
OPT ?= -O2
WARN ?= -Wall -Wextra
CFLAGS ?= $(OPT) -g $(WARN)
CFLAGS += -std=gnu11 -pthread -MMD -MP -D_GNU_SOURCE
# Lua scripting (server/script.c): Debian's Lua 5.1; cjson is dlopen()ed at run time
CFLAGS += -I/usr/include/lua5.1
LDLIBS ?= -lrocksdb -levent_pthreads -levent -lzstd -lpthread -lm
LDLIBS += -llua5.1
JEMALLOC ?= -ljemalloc
# storage/crc32c.c takes the place of librocksdb's CRC-32C: the symbol must be
# in the executable's dynamic symbol table for the library's calls to find it.
LDFLAGS += -Wl,--export-dynamic-symbol=_ZN7rocksdb6crc32c6ExtendEjPKcm
BUILD ?= build
PYTHON ?= /usr/bin/python3
PYTEST_ARGS ?=

SERVER_SRC := $(wildcard server/*.c)
STORAGE_SRC := $(wildcard storage/*.c)
REPL_SRC := $(wildcard replication/*.c)
RDB_SRC := $(wildcard rdb/*.c)
ALL_SRC := $(SERVER_SRC) $(STORAGE_SRC) $(REPL_SRC) $(RDB_SRC)

OBJ := $(ALL_SRC:%.c=$(BUILD)/%.o)
ASAN_OBJ := $(ALL_SRC:%.c=$(BUILD)-asan/%.o)

.PHONY: all run test unit integration integration-asan bench clean noopt asan lint-layers deps

all: bin/strata-server bin/keydb-server

bin/strata-server: $(OBJ)
	@mkdir -p bin
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(OBJ) $(LDLIBS) $(JEMALLOC)

bin/keydb-server: bin/strata-server
	ln -sf strata-server $@

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# ASan build: no jemalloc (it would replace ASan's allocator).
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -DSTRATA_NO_JEMALLOC
$(BUILD)-asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -c -o $@ $<

bin/strata-server-asan: $(ASAN_OBJ)
	@mkdir -p bin
	$(CC) $(CFLAGS) $(ASAN_FLAGS) $(LDFLAGS) -o $@ $(ASAN_OBJ) $(LDLIBS)

asan: bin/strata-server-asan

noopt:
	$(MAKE) OPT=-O0 BUILD=build-noopt all

# ---- unit tests: pure modules only, linked without libevent ------------------
UNIT_TESTS := resp config encoding hlc sha1 util storage wal evict hll script_lua zscore coll listpos crc32c
UNIT_BINS := $(UNIT_TESTS:%=bin/test_%)
test_resp_DEPS := server/resp.c server/util.c
test_config_DEPS := server/config.c server/config_special.c server/util.c
test_encoding_DEPS := storage/encoding.c
test_hlc_DEPS := storage/hlc.c
test_sha1_DEPS := server/sha1.c
test_util_DEPS := server/util.c
test_storage_DEPS := $(STORAGE_SRC)
test_wal_DEPS := $(STORAGE_SRC)
test_evict_DEPS := $(STORAGE_SRC)
test_coll_DEPS := $(STORAGE_SRC)
test_script_lua_DEPS := server/script_lua.c server/resp.c server/util.c
test_script_lua_LIBS := -llua5.1
test_hll_DEPS := server/hll.c
test_zscore_DEPS := storage/encoding.c
test_listpos_DEPS := storage/encoding.c
test_crc32c_DEPS := storage/crc32c.c

.SECONDEXPANSION:
bin/test_%: tests/unit/test_%.c $$(test_%_DEPS)
	@mkdir -p bin
	$(CC) $(CFLAGS) -O1 -fsanitize=address,undefined -fno-omit-frame-pointer $(LDFLAGS) -o $@ $^ -lcmocka -lrocksdb -lzstd -lpthread -lm $(test_$*_LIBS)

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; ./$$t; done

# ---- dependencies ------------------------------------------------------------
deps:
	@if ! pkg-config --exists libevent 2>/dev/null || [ ! -f /usr/include/rocksdb/c.h ] \
	   || [ ! -f /usr/include/cmocka.h ] || ! command -v redis-server >/dev/null \
	   || ! command -v redis-benchmark >/dev/null || ! $(PYTHON) -c 'import redis, pytest' 2>/dev/null \
	   || [ ! -f /usr/include/jemalloc/jemalloc.h ] || [ ! -f /usr/include/zstd.h ] \
	   || [ ! -f /usr/include/lua5.1/lua.h ] || [ ! -f /usr/lib/x86_64-linux-gnu/lua/5.1/cjson.so ]; then \
	    ./scripts/install-deps.sh; fi

run: deps
	@$(MAKE) --no-print-directory all
	mkdir -p data
	./bin/strata-server keydb.conf --dir ./data

integration: all
	STRATA_BIN=$(CURDIR)/bin/strata-server $(PYTHON) -m pytest -q -x tests/integration $(PYTEST_ARGS)

integration-asan: asan
	STRATA_BIN=$(CURDIR)/bin/strata-server-asan STRATA_ASAN=1 \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
	  $(PYTHON) -m pytest -q -x tests/integration -m "not slow" $(PYTEST_ARGS)

test: deps
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory integration
	@$(MAKE) --no-print-directory integration-asan

bench: deps all
	./bench/compare.sh

lint-layers:
	@bad=$$(grep -rlE '\brocksdb_[a-z_]+\(' server replication rdb 2>/dev/null; \
	  grep -rlE '#include *"\.\./(server|replication)/' storage rdb 2>/dev/null; \
	  grep -rlE '#include *"\.\./server/' replication 2>/dev/null); \
	if [ -n "$$bad" ]; then echo "layering violations:"; echo "$$bad"; exit 1; fi; echo "layers ok"

clean:
	rm -rf build build-asan build-noopt bin

-include $(OBJ:.o=.d) $(ASAN_OBJ:.o=.d)
