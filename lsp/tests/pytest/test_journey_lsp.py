"""Drives the real `journey lsp --stdio` binary from pytest-lsp (pygls), a client that is
not part of this project. Build the CLI first (`cargo build -p journey-cli`); set
`JOURNEY_BIN` to test another binary."""

import asyncio
import os
import pathlib
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

REPO = pathlib.Path(__file__).resolve().parents[3]
# The binary cargo built: $JOURNEY_BIN, else under $CARGO_TARGET_DIR (relative to the
# repository, as cargo reads it), else under the repository's `target`.
TARGET = REPO / os.environ.get("CARGO_TARGET_DIR", "target")
BIN = os.environ.get("JOURNEY_BIN", str(TARGET / "debug" / "journey"))

SCHEMA = """/// What we know about a customer.
profile {
  prénom: string
  âge: number
  optin_sms: bool = false
}

/// A new line is activated.
event souscription { forfait: string }
event login
"""

CHANNELS = """import "schema.journey"

channel sms uses "sms" {
  params { lien: string? }
  requires profile.optin_sms
}

template bienvenue for sms {
  text: "Salut {profile.prénom} !"
}
"""

JOURNEY = """import "schema.journey"
import "channels.journey"

/// « Été » : la bienvenue.
journey été_accueil {
  entry on souscription
  send sms bienvenue
  wait for logn within 3 days
  wait 2 months
}
"""


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[BIN, "lsp", "--stdio"]),
)
async def client(lsp_client: LanguageClient):
    # The server asks to watch `.journey` files when the client can register watchers
    # dynamically (VS Code can); accept, as VS Code does.
    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register_capability(params: types.RegistrationParams):
        return None

    await lsp_client.initialize_session(
        types.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
    )
    yield
    await lsp_client.shutdown_session()


def write_project(root: pathlib.Path) -> dict[str, str]:
    (root / "journey.toml").write_text('[project]\nname = "demo"\n')
    files = {"schema.journey": SCHEMA, "channels.journey": CHANNELS, "main.journey": JOURNEY}
    uris = {}
    for name, text in files.items():
        path = root / name
        path.write_text(text, encoding="utf-8")
        uris[name] = path.as_uri()
    return uris


def open_doc(client: LanguageClient, uri: str, text: str, version: int = 1):
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="journey", version=version, text=text
            )
        )
    )


async def wait_diagnostics(client: LanguageClient, uri: str, predicate, timeout=10.0):
    async def loop():
        while True:
            diags = client.diagnostics.get(uri)
            if diags is not None and predicate(diags):
                return diags
            await client.wait_for_notification("textDocument/publishDiagnostics")

    return await asyncio.wait_for(loop(), timeout)


def pos(text: str, needle: str, delta: int = 0) -> types.Position:
    """The UTF-16 position of `needle` (plus `delta` characters) in `text`."""
    at = text.index(needle) + delta
    line = text.count("\n", 0, at)
    start = text.rfind("\n", 0, at) + 1
    col = len(text[start:at].encode("utf-16-le")) // 2
    return types.Position(line=line, character=col)


async def test_diagnostics_quick_fix_and_clearing(client: LanguageClient, tmp_path):
    uris = write_project(tmp_path)
    main = uris["main.journey"]
    open_doc(client, main, JOURNEY)
    diags = await wait_diagnostics(client, main, lambda d: len(d) > 0)
    d = next(d for d in diags if d.code == "E0201")
    assert d.source == "journey"
    assert "unknown event `logn`" in d.message
    assert "did you mean `login`?" in d.message
    assert d.code_description.href.endswith("language.md#e0201-unknown-name")
    assert d.range.start == pos(JOURNEY, "logn")

    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=main),
            range=d.range,
            context=types.CodeActionContext(diagnostics=[d]),
        )
    )
    fix = next(a for a in actions if a.title == "replace with `login`")
    edit = fix.edit.changes[main][0]
    assert edit.new_text == "login"

    # Apply the fix as an incremental change: the diagnostics go away.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=main, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(range=edit.range, text="login")
            ],
        )
    )
    await wait_diagnostics(client, main, lambda d: len(d) == 0)


async def test_hover_and_completion_with_accents(client: LanguageClient, tmp_path):
    uris = write_project(tmp_path)
    main = uris["main.journey"]
    open_doc(client, main, JOURNEY)
    await wait_diagnostics(client, main, lambda d: True)

    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=main),
            position=pos(JOURNEY, "souscription", 3),
        )
    )
    assert "event souscription { forfait: string }" in hover.contents.value
    assert "A new line is activated." in hover.contents.value

    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=main),
            position=pos(JOURNEY, "2 months", 3),
        )
    )
    assert "calendar offset" in hover.contents.value

    # Type `profile.` after the accented journey name: UTF-16 columns must line up.
    text = JOURNEY.replace("  wait 2 months\n", "  if profile.\n")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=main, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=main),
            position=pos(text, "profile.", len("profile.")),
        )
    )
    items = result.items if hasattr(result, "items") else result
    labels = {i.label for i in items}
    assert {"prénom", "âge", "optin_sms"} <= labels


async def test_navigation_and_rename_across_files(client: LanguageClient, tmp_path):
    uris = write_project(tmp_path)
    main, schema = uris["main.journey"], uris["schema.journey"]
    open_doc(client, main, JOURNEY)
    open_doc(client, schema, SCHEMA)
    await wait_diagnostics(client, schema, lambda d: True)

    at = types.TextDocumentPositionParams(
        text_document=types.TextDocumentIdentifier(uri=main),
        position=pos(JOURNEY, "souscription", 2),
    )
    definition = await client.text_document_definition_async(
        types.DefinitionParams(text_document=at.text_document, position=at.position)
    )
    loc = definition[0] if isinstance(definition, list) else definition
    assert loc.uri == schema
    assert loc.range.start == pos(SCHEMA, "souscription")

    refs = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=at.text_document,
            position=at.position,
            context=types.ReferenceContext(include_declaration=True),
        )
    )
    assert {r.uri for r in refs} == {main, schema}

    edit = await client.text_document_rename_async(
        types.RenameParams(
            text_document=at.text_document, position=at.position, new_name="inscription"
        )
    )
    assert set(edit.changes) == {main, schema}
    assert all(e.new_text == "inscription" for es in edit.changes.values() for e in es)


async def test_symbols_tokens_folding_and_formatting(client: LanguageClient, tmp_path):
    uris = write_project(tmp_path)
    main = uris["main.journey"]
    ugly = JOURNEY.replace("  send sms bienvenue", "send   sms bienvenue")
    open_doc(client, main, ugly)
    await wait_diagnostics(client, main, lambda d: True)
    doc = types.TextDocumentIdentifier(uri=main)

    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=doc)
    )
    assert [s.name for s in symbols if s.name == "été_accueil"]

    found = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="souscr"))
    assert any(s.name == "souscription" for s in found)

    tokens = await client.text_document_semantic_tokens_full_async(
        types.SemanticTokensParams(text_document=doc)
    )
    assert len(tokens.data) % 5 == 0 and len(tokens.data) > 0

    folds = await client.text_document_folding_range_async(
        types.FoldingRangeParams(text_document=doc)
    )
    assert any(f.start_line == 4 for f in folds)

    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=doc,
            options=types.FormattingOptions(tab_size=2, insert_spaces=True),
        )
    )
    assert len(edits) == 1
    assert "  send sms bienvenue" in edits[0].new_text
