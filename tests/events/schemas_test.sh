#!/bin/sh
# Canonical event schemas, examples and docs/events.md (see check_schemas.py).
# Needs python3 with jsonschema (Debian: apt-get install python3-jsonschema); skips without it.
here=$(dirname "$0")
py=${PYTHON3:-python3}
if ! "$py" -c 'import jsonschema' 2>/dev/null; then
    echo "SKIP: needs the python3 jsonschema module (Debian: apt-get install python3-jsonschema)"
    exit 77
fi
exec "$py" "$here/check_schemas.py" "$@"
