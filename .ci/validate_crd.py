#!/usr/bin/env python3
"""Validates NIMService/NIMCache documents against the CRDs' openAPIV3Schema.

Independent of nimscale's own admission code: the CRD's structural schema is
turned into a JSON Schema (unknown fields refused, as kubectl's strict field
validation does; int-or-string fields take either) and checked with the
`jsonschema` package. Usage: validate_crd.py CRD_DIR FILE...
"""
import sys
import pathlib

import jsonschema
import yaml


def to_json_schema(s):
    out = {}
    for key in ("type", "enum", "pattern", "minimum", "maximum", "minLength", "maxLength",
                "minItems", "maxItems", "required", "format"):
        if key in s and not (key == "format" and s[key] in ("int32", "int64", "byte", "date-time")):
            out[key] = s[key]
    if s.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        if "pattern" in out:
            out["anyOf"] = [{"type": "integer"}, {"type": "string", "pattern": out.pop("pattern")}]
    if "properties" in s:
        out["properties"] = {k: to_json_schema(v) for k, v in s["properties"].items()}
        if not s.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    if isinstance(s.get("additionalProperties"), dict):
        out["additionalProperties"] = to_json_schema(s["additionalProperties"])
    if "items" in s:
        out["items"] = to_json_schema(s["items"])
    if s.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def main():
    crd_dir = pathlib.Path(sys.argv[1])
    schemas = {}
    for f in crd_dir.glob("*.yaml"):
        crd = yaml.safe_load(f.read_text())
        kind = crd["spec"]["names"]["kind"]
        s = to_json_schema(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
        s["properties"]["metadata"] = {"type": "object"}
        schemas[kind] = s
    failed = 0
    checked = 0
    for name in sys.argv[2:]:
        for doc in yaml.safe_load_all(pathlib.Path(name).read_text()):
            if not doc or doc.get("kind") not in schemas:
                continue
            checked += 1
            doc.pop("status", None)
            errors = list(jsonschema.Draft7Validator(schemas[doc["kind"]]).iter_errors(doc))
            for e in errors:
                failed += 1
                print(f"FAIL {name}: {doc['kind']} {'.'.join(map(str, e.path))}: {e.message}")
    print(f"CRD schema: {checked} documents checked, {failed} errors")
    return 1 if failed or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
