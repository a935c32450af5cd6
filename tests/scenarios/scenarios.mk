# tests/scenarios: issue 7's scenarios across connectors (pos-file, shopify, woocommerce,
# prestashop and their fakes), through one daemon. Included by Makefile.am.
TESTS += tests/scenarios/shops_scenario_test.py
EXTRA_DIST += tests/scenarios/shops_scenario_test.py
