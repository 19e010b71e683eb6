"""Builds the OpenAPI 3.1 document from the API's route table and pydantic models.

Pydantic emits JSON Schema 2020-12, which OpenAPI 3.1 uses as is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ecoach import __version__

REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # path or query
    type: str
    description: str
    required: bool = False
    minimum: int | None = None
    maximum: int | None = None

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type}
        if self.type == "string" and self.required:
            schema["minLength"] = 1
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


def build_openapi(routes: Any, *, base_url: str) -> dict[str, Any]:
    from ecoach.web.api_models import Error, Health

    schemas: dict[str, Any] = {}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        return {"$ref": REF.format(model=model.__name__)}

    error = {"description": "Error", "content": {"application/json": {"schema": ref(Error)}}}
    paths: dict[str, Any] = {}
    for route in routes:
        operation: dict[str, Any] = {
            "summary": route.summary,
            "operationId": route.handler.__name__,
            "security": [{"bearer": []}],
            "parameters": [
                {"name": p.name, "in": p.where, "required": p.required or p.where == "path",
                 "description": p.description, "schema": p.schema()}
                for p in route.params
            ],
            "responses": {
                **{str(status): {"description": "Success" if status == route.status else route.also_reason,
                                 "content": {"application/json": {"schema": ref(route.response)}}}
                   for status in (route.status, *route.also)},
                "400": error, "401": error, "403": error, "404": error, "422": error, "429": error,
                "default": error,
            },
        }
        if route.request is not None:
            operation["requestBody"] = {
                "required": True, "content": {"application/json": {"schema": ref(route.request)}},
            }
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    paths["/healthz"] = {"get": {
        "summary": "Is the database reachable?", "operationId": "healthz", "security": [],
        "responses": {"200": {"description": "Healthy (or degraded: a mailbox cannot be read)",
                              "content": {"application/json": {"schema": ref(Health)}}},
                      "503": {"description": "Database unreachable",
                              "content": {"application/json": {"schema": ref(Health)}}}},
    }}
    return {
        "openapi": "3.1.0",
        "info": {"title": "ecoach API", "version": __version__,
                 "description": "Coach-facing API: engagements, timelines, messages, search."},
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "Create one with `ecoach coach token`"}},
        },
    }
