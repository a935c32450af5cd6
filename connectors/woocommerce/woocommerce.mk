# connectors/woocommerce: the woocommerce connector (issue 7), included by Makefile.am.
