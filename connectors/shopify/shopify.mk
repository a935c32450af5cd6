# connectors/shopify: the Shopify connector (issue 7), included by Makefile.am.
