"""No Swift toolchain runs here, so the generated Swift is checked as text:
the module's files exist, and every function, constructor and method the
library exports (every `#[uniffi::export]` item of mobile-bindings/src/lib.rs)
is declared, as are the records, enums and the error type.

Run after mobile-bindings/generate.sh:
    python3 mobile-bindings/tests/check_swift.py
"""

import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINDINGS = os.environ.get("BINDINGS_DIR", os.path.join(ROOT, "target", "bindings"))
SWIFT = os.path.join(BINDINGS, "swift")


def camel(name):
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def exported(source):
    """Names of exported functions and methods, and whether each is a constructor."""
    names = []
    lines = source.splitlines()
    in_impl = False
    depth = 0
    pending_export = False
    constructor = False
    for line in lines:
        stripped = line.strip()
        if stripped == "#[uniffi::export]":
            pending_export = True
            continue
        if stripped == "#[uniffi::constructor]":
            constructor = True
            continue
        if pending_export and stripped.startswith("impl "):
            in_impl, depth, pending_export = True, 0, False
        if in_impl:
            depth += line.count("{") - line.count("}")
            match = re.match(r"pub fn (\w+)", stripped)
            if match:
                names.append((match.group(1), constructor))
                constructor = False
            if depth == 0 and "}" in line:
                in_impl = False
            continue
        match = re.match(r"pub fn (\w+)", stripped)
        if match and pending_export:
            names.append((match.group(1), False))
        if not stripped.startswith("#") and not stripped.startswith("///"):
            pending_export = False
    return names


def types(source_dir):
    """Records and enums of the exported surface (local and mirrored)."""
    found = set()
    for name in ("lib.rs", "mirror.rs"):
        with open(os.path.join(source_dir, name), encoding="utf-8") as f:
            text = f.read()
        found |= set(re.findall(r"#\[(?:uniffi::remote\((?:Record|Enum)\)|derive\([^)]*uniffi::(?:Record|Enum|Error)[^)]*\))\]\s*(?:#\[[^\]]*\]\s*)*pub (?:struct|enum) (\w+)", text))
    return found


def main():
    problems = []
    for name in ("WhereaboutsCore.swift", "WhereaboutsCoreFFI.h", "WhereaboutsCoreFFI.modulemap"):
        if not os.path.isfile(os.path.join(SWIFT, name)):
            problems.append(f"missing {name}")
    if problems:
        print("\n".join(problems))
        return 1
    with open(os.path.join(SWIFT, "WhereaboutsCore.swift"), encoding="utf-8") as f:
        swift = f.read()
    src = os.path.join(ROOT, "mobile-bindings", "src")
    with open(os.path.join(src, "lib.rs"), encoding="utf-8") as f:
        functions = exported(f.read())
    for name, is_constructor in functions:
        pattern = rf"public (?:static |convenience )?(?:init|func {camel(name)})\(" if is_constructor else rf"(?:public|open) func {camel(name)}\("
        if not re.search(pattern, swift):
            problems.append(f"no Swift declaration of {name} ({camel(name)})")
    kinds = types(src)
    for name in sorted(kinds):
        if not re.search(rf"public\s+(?:struct|enum) {name}\b", swift):
            problems.append(f"no Swift type {name}")
    if not re.search(r"open class PolicySnapshot\b", swift):
        problems.append("no Swift class PolicySnapshot")
    with open(os.path.join(SWIFT, "WhereaboutsCoreFFI.modulemap"), encoding="utf-8") as f:
        if "WhereaboutsCoreFFI" not in f.read():
            problems.append("the modulemap does not name WhereaboutsCoreFFI")
    if len(functions) < 12:
        problems.append(f"only {len(functions)} exported functions found in lib.rs")
    for p in problems:
        print(p)
    print(f"swift: {len(functions)} functions and {len(kinds)} types declared in WhereaboutsCore.swift"
          if not problems else f"swift: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
