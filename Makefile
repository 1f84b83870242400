# Thin wrapper over CMake. The two commands a newcomer needs:
#   make quickstart   run a server, an agent and a demo service, and fetch a page through the tunnel
#   make test         build everything and run every test (C++ and the bindings)
# Sanitizer builds: make test ZLT_SANITIZE=address,undefined   (or =thread); each gets its own build dir.

ZLT_SANITIZE ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

ifeq ($(ZLT_SANITIZE),)
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
else
BUILD ?= build-$(subst $(comma),-,$(ZLT_SANITIZE))
BUILD_TYPE ?= Debug
endif
comma := ,

.PHONY: all setup configure build test quickstart bench format fuzz install clean

all: build

setup:
	@scripts/setup

configure: setup
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DZLT_SANITIZE=$(ZLT_SANITIZE) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@scripts/run-tests $(BUILD)

quickstart: build
	@$(BUILD)/zlt quickstart $(QUICKSTART_ARGS)

bench: setup
	@scripts/setup bench
	@cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DZLT_BUILD_TESTS=OFF >/dev/null
	@cmake --build build-bench -j $(JOBS)
	@scripts/bench build-bench

fuzz:
	@scripts/setup fuzz
	@CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DZLT_FUZZ=ON -DZLT_BUILD_BENCH=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target zlt_fuzzers
	@scripts/fuzz build-fuzz $(FUZZ_SECONDS)

format:
	@scripts/setup format
	@git ls-files '*.cpp' '*.hpp' '*.h' '*.c' | xargs clang-format -i

install: build
	@cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX))

clean:
	rm -rf build build-* 
