# porthole — the two commands people need: `make demo` and `make test`.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
# -g1 (line tables) keeps backtraces and perf useful at a fraction of the compile time of -g.
CMAKE_GEN  := -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
CTEST_J    ?= 4
FUZZ_SECONDS ?= 15

.PHONY: all deps build asan fuzz test test-fast demo bench format tidy clean

all: build

deps:
	@bash scripts/deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) $(CMAKE_GEN)

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DPORTHOLE_SANITIZE=ON -DPORTHOLE_BENCH=OFF

asan: $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# libFuzzer targets (clang), run briefly; corpora live in tests/fuzz/corpus/<target>.
fuzz:
	@bash scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Everything CI runs: deps, release build + all tests, ASan/UBSan build + its tests, fuzzing.
test: deps
	@bash scripts/test.sh

# Quick loop while developing: release build and its tests only.
test-fast: build
	cd $(BUILD) && ctest -j $(CTEST_J) --output-on-failure

demo: deps build
	./$(BUILD)/porthole demo

bench: deps build
	bash bench/run.sh

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

tidy: build
	git ls-files 'src/*.cpp' | xargs clang-tidy -p $(BUILD) --quiet

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
