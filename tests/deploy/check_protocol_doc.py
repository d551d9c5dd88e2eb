#!/usr/bin/env python3
"""docs/protocol.md includes proto/parley/v1/client.proto verbatim between its
'begin client.proto' and 'end client.proto' markers, so the frame schema an
SDK author reads cannot drift from the one the gateway speaks."""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
doc = (root / "docs/protocol.md").read_text()
proto = (root / "proto/parley/v1/client.proto").read_text().rstrip()
match = re.search(r"<!-- begin client\.proto -->\n```proto\n(.*?)\n```\n<!-- end client\.proto -->",
                  doc, re.S)
if not match:
    print("problem: docs/protocol.md has no client.proto block")
    sys.exit(1)
if match.group(1).rstrip() != proto:
    print("problem: docs/protocol.md's client.proto block differs from proto/parley/v1/client.proto;"
          " paste the file in again")
    sys.exit(1)
print("docs/protocol.md includes client.proto as it is")
