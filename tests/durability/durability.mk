# The durability proofs of docs/durability.md (python3, stdlib only), each against a running
# omnibusd; included by Makefile.am.
#   poison_test.py  a destination that refuses some events (HTTP 400): the others go on, the
#                   refused ones wait in the dead-letter queue to be replayed, edited or dropped
TESTS += tests/durability/poison_test.py
EXTRA_DIST += tests/durability/poison_test.py
#   crash_test.py   200,000 events, SIGKILL at random points 6 times: nothing accepted is lost
#   outage_test.py  a destination answers 503, then 429 with Retry-After: everything arrives,
#                   in order per key, with the backoff visible
#   reload_test.py  20 reloads (route swaps and connector restarts) in a 100,000-event stream
#   diskfull_test.py a store past its budget, and (as root) on a full tmpfs: 503, no loss
TESTS += tests/durability/crash_test.py tests/durability/outage_test.py \
	tests/durability/reload_test.py tests/durability/diskfull_test.py
EXTRA_DIST += tests/durability/crash_test.py tests/durability/outage_test.py \
	tests/durability/reload_test.py tests/durability/diskfull_test.py
