#!/usr/bin/env python3
"""docs/protocol.md includes proto/parley/v1/client.proto and the
group_message.proto its group frames use verbatim, each between its
'begin <file>' and 'end <file>' markers, so the frame schema an SDK author
reads cannot drift from the one the gateway speaks."""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
doc = (root / "docs/protocol.md").read_text()
problems = 0
for name in ("client.proto", "group_message.proto"):
    proto = (root / "proto/parley/v1" / name).read_text().rstrip()
    marker = re.escape(name)
    match = re.search(r"<!-- begin " + marker + r" -->\n```proto\n(.*?)\n```\n<!-- end " + marker +
                      r" -->", doc, re.S)
    if not match:
        print(f"problem: docs/protocol.md has no {name} block")
        problems += 1
    elif match.group(1).rstrip() != proto:
        print(f"problem: docs/protocol.md's {name} block differs from proto/parley/v1/{name};"
              " paste the file in again")
        problems += 1
if problems:
    sys.exit(1)
print("docs/protocol.md includes client.proto and group_message.proto as they are")
