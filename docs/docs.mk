# docs: canonical event reference, JSON Schemas and their tests (included by Makefile.am).
# Every file under docs/schemas/ and tests/events/ must be listed here (check_schemas.py checks).
# The Python checks are not named *_test.py: TEST_EXTENSIONS has .py, and x_test.py next to
# x_test.sh would make the same x_test.log.

EVENT_DOCS = \
	docs/events.md \
	docs/schemas/bad/cart.updated/qty-as-string.json \
	docs/schemas/bad/customer.identified/numeric-platform-id.json \
	docs/schemas/bad/envelope/bad-type.json \
	docs/schemas/bad/event/missing-body.json \
	docs/schemas/bad/loyalty.earn/float-points.json \
	docs/schemas/bad/loyalty.redeem/empty-customer.json \
	docs/schemas/bad/message.out/missing-text.json \
	docs/schemas/bad/order.created/numeric-order-id.json \
	docs/schemas/bad/order.created/pickup-without-location.json \
	docs/schemas/bad/price.set/amount-as-string.json \
	docs/schemas/bad/price.set/float-amount.json \
	docs/schemas/bad/price.set/lowercase-currency.json \
	docs/schemas/bad/price.set/sku-as-number.json \
	docs/schemas/bad/stock.available/location-and-channel.json \
	docs/schemas/bad/stock.available/negative.json \
	docs/schemas/bad/stock.delta/unknown-reason.json \
	docs/schemas/bad/stock.delta/zero-delta.json \
	docs/schemas/bad/stock.level/local-time.json \
	docs/schemas/bad/stock.level/missing-sku.json \
	docs/schemas/bad/stock.level/quantity-as-float.json \
	docs/schemas/bad/stock.level/quantity-as-string.json \
	docs/schemas/bad/stock.level/unknown-field.json \
	docs/schemas/cart.abandoned.schema.json \
	docs/schemas/cart.updated.schema.json \
	docs/schemas/common.schema.json \
	docs/schemas/customer.identified.schema.json \
	docs/schemas/envelope.schema.json \
	docs/schemas/event.schema.json \
	docs/schemas/examples/cart.abandoned.json \
	docs/schemas/examples/cart.updated.json \
	docs/schemas/examples/customer.identified.json \
	docs/schemas/examples/envelope.json \
	docs/schemas/examples/event.json \
	docs/schemas/examples/loyalty.balance.json \
	docs/schemas/examples/loyalty.earn.json \
	docs/schemas/examples/loyalty.redeem.json \
	docs/schemas/examples/message.in.json \
	docs/schemas/examples/message.out.json \
	docs/schemas/examples/order.created.json \
	docs/schemas/examples/price.set.json \
	docs/schemas/examples/return.created.json \
	docs/schemas/examples/stock.available.json \
	docs/schemas/examples/stock.delta.json \
	docs/schemas/examples/stock.level.json \
	docs/schemas/loyalty.balance.schema.json \
	docs/schemas/loyalty.earn.schema.json \
	docs/schemas/loyalty.redeem.schema.json \
	docs/schemas/message.in.schema.json \
	docs/schemas/message.out.schema.json \
	docs/schemas/order.created.schema.json \
	docs/schemas/price.set.schema.json \
	docs/schemas/return.created.schema.json \
	docs/schemas/stock.available.schema.json \
	docs/schemas/stock.delta.schema.json \
	docs/schemas/stock.level.schema.json

EVENT_TESTS = \
	tests/events/catalog_test.sh \
	tests/events/check_catalog.py \
	tests/events/check_schemas.py \
	tests/events/omb_schemas.py \
	tests/events/schemas_test.sh

# Demo data: catalog fixture -> ndjson drop files (tests/events/catalog_test.sh runs it on
# $(OMB_FIXTURES)/catalog.json).
EVENT_TOOLS = tools/catalog-to-ndjson

EXTRA_DIST += $(EVENT_DOCS) $(EVENT_TESTS) $(EVENT_TOOLS)
TESTS += tests/events/schemas_test.sh tests/events/catalog_test.sh
