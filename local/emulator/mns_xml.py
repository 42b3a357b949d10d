"""The XML that MNS speaks: documents in its namespace, read and written."""
from __future__ import annotations

from typing import Any, Dict, Iterable, Mapping
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from .errors import ApiError

NAMESPACE = "http://mns.aliyuncs.com/doc/v1/"
CONTENT_TYPE = "text/xml;charset=utf-8"
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def _elements(fields: Mapping[str, Any]) -> str:
    return "".join(f"<{name}>{escape(str(value))}</{name}>" for name, value in fields.items())


def render_xml(root: str, fields: Mapping[str, Any]) -> bytes:
    return f'{DECLARATION}<{root} xmlns="{NAMESPACE}">{_elements(fields)}</{root}>'.encode("utf-8")


def render_xml_list(root: str, item: str, items: Iterable[Mapping[str, Any]]) -> bytes:
    inner = "".join(f"<{item}>{_elements(fields)}</{item}>" for fields in items)
    return f'{DECLARATION}<{root} xmlns="{NAMESPACE}">{inner}</{root}>'.encode("utf-8")


def parse_fields(body: bytes, root: str) -> Dict[str, str]:
    """Children of the root element as {name: text}, with or without the MNS namespace."""
    try:
        element = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise ApiError(400, "MalformedXML", "The XML you provided was not well-formed.")
    if element.tag not in (root, f"{{{NAMESPACE}}}{root}"):
        raise ApiError(
            400, "InvalidArgument",
            f"The XML you provided did not validate against our published schema, cause by {root} Element.",
        )
    return {child.tag.rpartition("}")[2]: child.text or "" for child in element}
