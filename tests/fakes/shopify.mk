# tests/fakes/shopify: fake shop APIs for the web shop connectors (issue 7), included by Makefile.am.
# The fake Shopify Admin API (python3, stdlib only; docs/fakes/shopify.md) and its self-test,
# which proves it over real HTTP until a shopify connector is tested against it.
TESTS += tests/fakes/shopify_fake_test.py
EXTRA_DIST += tests/fakes/shopify_fake.py tests/fakes/shopify_fake_test.py docs/fakes/shopify.md
