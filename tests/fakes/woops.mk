# tests/fakes/woops: fake shop APIs for the web shop connectors (issue 7), included by Makefile.am.
# The fakes (python3, stdlib only) are not used by any connector yet; their self-tests prove them.
# docs/fakes/{woocommerce,prestashop}.md describe them for the connectors' authors.
TESTS += tests/fakes/woocommerce_fake_test.py tests/fakes/prestashop_fake_test.py
EXTRA_DIST += tests/fakes/woocommerce_fake.py tests/fakes/woocommerce_fake_test.py \
	tests/fakes/prestashop_fake.py tests/fakes/prestashop_fake_test.py \
	docs/fakes/woocommerce.md docs/fakes/prestashop.md
