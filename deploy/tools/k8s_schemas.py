"""Turn Kubernetes and CRD schemas into the JSON schemas kubeconform validates against.

Kubeconform reads one JSON schema file per kind and API version. CI cannot download them, so the
repository vendors them under ``deploy/schemas/`` (README there), made by this script from
inputs that come from package registries:

* Kubernetes built-in kinds: the OpenAPI v2 document ``api/openapi-spec/swagger.json`` of the
  Go module ``k8s.io/kubernetes``. Each kind becomes a standalone schema (every ``$ref``
  inlined) in kubeconform's layout ``<kind>[-<group>]-<version>.json``.
* Custom resources (Strimzi, prometheus-operator): a CustomResourceDefinition YAML; each served
  version's ``openAPIV3Schema`` becomes ``<group>/<kind>_<version>.json``.

Both are made strict the way ``kubectl --validate=strict`` is: an object whose properties are
listed accepts no other property (unless the schema preserves unknown fields), so a misspelt
field fails validation instead of being silently dropped by the API server.

    python deploy/tools/k8s_schemas.py kubernetes SWAGGER OUT_DIR GROUP/VERSION/KIND...
    python deploy/tools/k8s_schemas.py crd OUT_DIR CRD_YAML...
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

import yaml

Schema = dict[str, Any]

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def strict(schema: Any) -> Any:
    """Deny properties that are not listed, recursively (kubectl's strict validation)."""
    if isinstance(schema, dict):
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        for value in schema.values():
            strict(value)
    elif isinstance(schema, list):
        for item in schema:
            strict(item)
    return schema


def _nullable(schema: Schema) -> None:
    """Let an optional field be ``null``: the API server treats that as unset."""
    kind = schema.get("type")
    if isinstance(kind, str):
        schema["type"] = [kind, "null"]
    elif "oneOf" in schema and {"type": "null"} not in schema["oneOf"]:
        schema["oneOf"].append({"type": "null"})


def _optional_may_be_null(schema: Any) -> None:
    if isinstance(schema, dict):
        required = set(schema.get("required", ()))
        for name, prop in schema.get("properties", {}).items():
            if name not in required and isinstance(prop, dict):
                _nullable(prop)
        for value in schema.values():
            _optional_may_be_null(value)
    elif isinstance(schema, list):
        for item in schema:
            _optional_may_be_null(item)


def _inline(schema: Any, definitions: dict[str, Schema], path: tuple[str, ...]) -> Any:
    """Replace every ``$ref`` by a copy of its definition (the standalone layout)."""
    if isinstance(schema, list):
        return [_inline(item, definitions, path) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.removeprefix("#/definitions/")
        if name in path:
            raise ValueError(f"recursive definition {' -> '.join((*path, name))}")
        if name == INT_OR_STRING:
            target: Schema = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
        elif name == QUANTITY:
            target = {"oneOf": [{"type": "string"}, {"type": "number"}]}
        else:
            target = _inline(copy.deepcopy(definitions[name]), definitions, (*path, name))
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        return {**target, **extra}
    return {key: _inline(value, definitions, path) for key, value in schema.items()}


def _gvk_index(definitions: dict[str, Schema]) -> dict[tuple[str, str, str], str]:
    index = {}
    for name, definition in definitions.items():
        for gvk in definition.get("x-kubernetes-group-version-kind", ()):
            index[(gvk["group"], gvk["version"], gvk["kind"])] = name
    return index


def kubernetes_file_name(group: str, version: str, kind: str) -> str:
    """Kubeconform's ``{{ .ResourceKind }}{{ .KindSuffix }}.json``: the first label of the
    group (none for the core group), e.g. ``statefulset-apps-v1.json``, ``service-v1.json``."""
    suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
    return f"{kind.lower()}{suffix}.json"


def kubernetes_schema(swagger: Schema, group: str, version: str, kind: str) -> Schema:
    definitions: dict[str, Schema] = swagger["definitions"]
    name = _gvk_index(definitions).get((group, version, kind))
    if name is None:
        raise KeyError(
            f"no definition of {group or 'core'}/{version} {kind} in the OpenAPI document"
        )
    schema: Schema = _inline(copy.deepcopy(definitions[name]), definitions, (name,))
    _optional_may_be_null(schema)
    api_version = f"{group}/{version}" if group else version
    schema["properties"]["apiVersion"]["enum"] = [api_version]
    schema["properties"]["kind"]["enum"] = [kind]
    schema["$schema"] = "http://json-schema.org/schema#"
    return strict(schema)


def _crd_types(schema: Any) -> Any:
    """Map the Kubernetes extensions of a CRD schema onto plain JSON schema."""
    if isinstance(schema, list):
        return [_crd_types(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _crd_types(value) for key, value in schema.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def crd_schemas(crd: Schema) -> dict[str, Schema]:
    """``{"<group>/<kind>_<version>.json": schema}`` for every version the CRD serves."""
    if crd.get("kind") != "CustomResourceDefinition":
        raise ValueError(f"not a CustomResourceDefinition: {crd.get('kind')}")
    group = crd["spec"]["group"]
    kind = crd["spec"]["names"]["kind"].lower()
    out = {}
    for version in crd["spec"]["versions"]:
        if not version.get("served", True):
            continue
        schema = _crd_types(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
        schema["$schema"] = "http://json-schema.org/schema#"
        out[f"{group}/{kind}_{version['name']}.json"] = strict(schema)
    return out


def _write(path: Path, schema: Schema) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="source", required=True)
    k8s = sub.add_parser("kubernetes", help="built-in kinds from swagger.json")
    k8s.add_argument("swagger", type=Path)
    k8s.add_argument("out", type=Path)
    k8s.add_argument("kinds", nargs="+", metavar="GROUP/VERSION/KIND", help="core group: empty")
    crd = sub.add_parser("crd", help="custom resources from CRD YAML files")
    crd.add_argument("out", type=Path)
    crd.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)

    if args.source == "kubernetes":
        swagger = json.loads(args.swagger.read_text(encoding="utf-8"))
        for gvk in args.kinds:
            group, version, kind = gvk.split("/")
            schema = kubernetes_schema(swagger, group, version, kind)
            _write(args.out / kubernetes_file_name(group, version, kind), schema)
        return 0
    for file in args.files:
        for document in yaml.safe_load_all(file.read_text(encoding="utf-8")):
            if document:
                for name, schema in crd_schemas(document).items():
                    _write(args.out / name, schema)
    return 0


if __name__ == "__main__":
    sys.exit(main())
