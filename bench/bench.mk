# bench/: the benchmark harness (bench/run) and its load generator. `make bench` runs it in
# full and prints the figures recorded in docs/performance.md; `make check` runs it short, only
# to check that every event sent was counted by the sink.
noinst_PROGRAMS = bench/omb-load
bench_omb_load_SOURCES = bench/omb-load.c
bench_omb_load_CFLAGS = $(AM_CFLAGS) $(ZMQ_CFLAGS)
bench_omb_load_LDADD = $(ZMQ_LIBS)
EXTRA_DIST += bench/run bench/quick_test.sh
TESTS += bench/quick_test.sh

bench: all
	OMB_BUILD='$(abs_top_builddir)' $(PYTHON3) $(srcdir)/bench/run
.PHONY: bench
