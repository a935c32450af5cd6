#!/usr/bin/env python3
"""Canonical events: every schema is valid, every example validates, every bad example fails,
and docs/events.md, docs/schemas/ and docs/docs.mk agree.

Usage: check_schemas.py [--fix]   (--fix rewrites the example blocks in docs/events.md from
                                  docs/schemas/examples/*.json, the source of truth)
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import omb_schemas  # noqa: E402

TOP = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DOCS = os.path.join(TOP, "docs")
SCHEMAS = os.path.join(DOCS, "schemas")
EVENTS_MD = os.path.join(DOCS, "events.md")

# The v1 types of DESIGN.md's table: the documentation must cover at least these.
V1_TYPES = ["price.set", "stock.level", "stock.delta", "stock.available", "cart.updated",
            "cart.abandoned", "order.created", "return.created", "loyalty.earn", "loyalty.redeem",
            "loyalty.balance", "customer.identified", "message.in", "message.out"]

# <!-- example: TYPE --> then a ```json fenced block holding docs/schemas/examples/TYPE.json.
EXAMPLE_RE = re.compile(r"(<!-- example: ([a-z0-9_.]+) -->\n```json\n)(.*?)(```\n)", re.S)
HEADING_RE = re.compile(r"^### `([a-z0-9_.]+)`", re.M)

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def rel(path):
    return os.path.relpath(path, TOP)


def example_path(name):
    return os.path.join(SCHEMAS, "examples", name + ".json")


def fix_doc(md):
    def repl(m):
        path = example_path(m.group(2))
        if not os.path.exists(path):
            return m.group(0)
        return m.group(1) + read(path) + m.group(4)
    return EXAMPLE_RE.sub(repl, md)


def main():
    md = read(EVENTS_MD)
    if "--fix" in sys.argv[1:]:
        new = fix_doc(md)
        if new != md:
            with open(EVENTS_MD, "w", encoding="utf-8") as f:
                f.write(new)
            print("rewrote the examples in " + rel(EVENTS_MD))
        md = new

    s = omb_schemas.Schemas(SCHEMAS)
    try:
        s.check_schemas()
    except Exception as e:  # a broken schema makes everything below meaningless
        fail("schema check: %s" % e)
        return 1

    # Every example validates against the schema of the same name.
    examples = sorted(f[:-5] for f in os.listdir(os.path.join(SCHEMAS, "examples"))
                      if f.endswith(".json"))
    for name in examples:
        inst = omb_schemas.load_json(example_path(name))
        if name not in s.by_name:
            fail("examples/%s.json: no schema %s.schema.json" % (name, name))
            continue
        for e in s.errors(name, inst):
            fail("examples/%s.json: %s" % (name, e))
        if name == "event":
            for e in s.event_errors(inst):
                fail("examples/event.json: %s" % e)

    # Every bad example fails against the schema named by its folder.
    bad_dir = os.path.join(SCHEMAS, "bad")
    nbad = 0
    for name in sorted(os.listdir(bad_dir)):
        if name not in s.by_name:
            fail("bad/%s/: no schema %s.schema.json" % (name, name))
            continue
        for fn in sorted(os.listdir(os.path.join(bad_dir, name))):
            inst = omb_schemas.load_json(os.path.join(bad_dir, name, fn))
            nbad += 1
            errs = s.errors(name, inst)
            if name == "event" and not errs:
                errs = s.event_errors(inst)
            if not errs:
                fail("bad/%s/%s: validates, but must not" % (name, fn))
            else:
                print("ok: bad/%s/%s rejected: %s" % (name, fn, errs[0]))
    if nbad < 10:
        fail("only %d bad examples under %s" % (nbad, rel(bad_dir)))

    # The documentation, the schemas and the examples cover the same types.
    documented = HEADING_RE.findall(md)
    if len(set(documented)) != len(documented):
        fail("docs/events.md: a type is documented twice")
    for t in V1_TYPES:
        if t not in documented:
            fail("docs/events.md: v1 type %s is not documented" % t)
    for t in documented:
        if t not in s.by_name:
            fail("docs/events.md documents %s, but docs/schemas/%s.schema.json is missing" % (t, t))
        if not os.path.exists(example_path(t)):
            fail("docs/events.md documents %s, but docs/schemas/examples/%s.json is missing"
                 % (t, t))
    for t in s.types():
        if t not in documented:
            fail("docs/schemas/%s.schema.json has no section in docs/events.md" % t)

    # The examples in docs/events.md are the example files, byte for byte.
    blocks = {m.group(2): m.group(3) for m in EXAMPLE_RE.finditer(md)}
    for name in ["envelope", "event"] + documented:
        if name not in blocks:
            fail("docs/events.md: no '<!-- example: %s -->' block" % name)
        elif os.path.exists(example_path(name)) and blocks[name] != read(example_path(name)):
            fail("docs/events.md: the %s example differs from docs/schemas/examples/%s.json "
                 "(run tests/events/check_schemas.py --fix)" % (name, name))

    # docs/docs.mk distributes every file (make distcheck needs them).
    mk = read(os.path.join(DOCS, "docs.mk"))
    listed = set(re.findall(r"[A-Za-z0-9_./@-]+", mk))
    wanted = [EVENTS_MD]
    for d, _, files in os.walk(SCHEMAS):
        wanted += [os.path.join(d, f) for f in files]
    ev_dir = os.path.dirname(os.path.abspath(__file__))
    wanted += [os.path.join(ev_dir, f) for f in os.listdir(ev_dir)
               if f.endswith((".py", ".sh"))]
    wanted.append(os.path.join(TOP, "tools", "catalog-to-ndjson"))
    for path in sorted(wanted):
        if rel(path) not in listed:
            fail("docs/docs.mk: %s is not in EXTRA_DIST" % rel(path))

    print("%d schemas, %d examples, %d bad examples, %d documented types, %d failures"
          % (len(s.by_name), len(examples), nbad, len(documented), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
