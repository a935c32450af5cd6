# connectors/prestashop: the prestashop connector (issue 7), included by Makefile.am.
