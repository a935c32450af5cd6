"""Shared helpers for the canonical event tests: load docs/schemas and validate against them.

Works with python3-jsonschema as packaged in Debian 12 (4.10, RefResolver) and with newer
releases (4.18+, the `referencing` registry).
"""
import json
import os

import jsonschema

BASE = "https://omnibus.example/schemas/v1/"
# Files in docs/schemas that are not the body schema of an event type.
NOT_TYPES = ("common", "envelope", "event")


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class Schemas:
    def __init__(self, schema_dir):
        self.dir = schema_dir
        self.by_name = {}
        for fn in sorted(os.listdir(schema_dir)):
            if fn.endswith(".schema.json"):
                self.by_name[fn[: -len(".schema.json")]] = load_json(os.path.join(schema_dir, fn))
        self._validators = {}

    def types(self):
        """Event types that have a body schema."""
        return sorted(n for n in self.by_name if n not in NOT_TYPES)

    def check_schemas(self):
        """Raise if a schema is not a valid draft 2020-12 schema or has the wrong $id."""
        for name, schema in self.by_name.items():
            jsonschema.Draft202012Validator.check_schema(schema)
            if schema.get("$id") != BASE + name + ".schema.json":
                raise ValueError("%s.schema.json: $id should be %s%s.schema.json"
                                 % (name, BASE, name))

    def validator(self, name):
        if name in self._validators:
            return self._validators[name]
        schema = self.by_name[name]
        try:
            from referencing import Registry, Resource
            from referencing.jsonschema import DRAFT202012
        except ImportError:
            store = {s["$id"]: s for s in self.by_name.values()}
            resolver = jsonschema.RefResolver.from_schema(schema, store=store)
            v = jsonschema.Draft202012Validator(schema, resolver=resolver)
        else:
            registry = Registry().with_resources(
                (s["$id"], Resource.from_contents(s, default_specification=DRAFT202012))
                for s in self.by_name.values())
            v = jsonschema.Draft202012Validator(schema, registry=registry)
        self._validators[name] = v
        return v

    def errors(self, name, instance):
        """List of error messages (empty when valid)."""
        out = []
        for e in sorted(self.validator(name).iter_errors(instance), key=lambda e: list(e.path)):
            where = "/".join(str(p) for p in e.absolute_path)
            out.append("%s: %s" % (where or "(root)", e.message))
        return out

    def event_errors(self, event):
        """Errors of a plugin-level event object: the event schema, then its body's type schema."""
        errs = self.errors("event", event)
        if errs:
            return errs
        t = event["type"]
        if t not in self.by_name or t in NOT_TYPES:
            return ["type: no schema for event type %r" % t]
        return ["body/" + e for e in self.errors(t, event["body"])]
