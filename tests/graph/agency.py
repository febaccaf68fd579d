"""A working folder's settings pointed at the Graph emulator, as an admin would edit them for a tenant."""

from __future__ import annotations

from pathlib import Path

from tests.graph.emulator import GraphEmulator


def point_at(settings: Path, graph: GraphEmulator, *, first_adviser_only: bool = False) -> None:
    """Edit ``settings`` (as ``m3mail init`` wrote it): backend = "microsoft365", the emulator's tenant, URLs
    and CA file; with ``first_adviser_only``, the other [[advisers]] tables removed."""
    text = settings.read_text(encoding="utf-8")
    if first_adviser_only:
        text = text[: text.index("\n[[advisers]]", text.index("\n[[advisers]]") + 1)] + "\n"
    for old, new in (
        ('backend = "local"', 'backend = "microsoft365"'),
        ('tenant_id = ""', f'tenant_id = "{graph.tenant}"'),
        ('client_id = ""', 'client_id = "m3mail-app"'),
        ('graph_url = "https://graph.microsoft.com"', f'graph_url = "{graph.base_url}"'),
        ('authority_url = "https://login.microsoftonline.com"', f'authority_url = "{graph.base_url}"'),
        ('ca_bundle = ""', f'ca_bundle = "{graph.ca_file}"'),
    ):
        assert old in text, old
        text = text.replace(old, new)
    settings.write_text(text, encoding="utf-8")
